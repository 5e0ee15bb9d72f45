package spec

import (
	"fmt"
	"sort"
	"strings"

	"dmlrun/stage"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

type format int

const (
	formatHCL format = iota
	formatYAML
)

// Reserved top-level block types; a stage may not register one of these kinds.
const (
	blockVariable = "variable"
	blockLocals   = "locals"
	blockCheck    = "check"
)

// Common arguments of every stage block, decoded before the stage's own schema.
const (
	argSeeds     = "seeds"
	argMatrix    = "matrix"
	argDependsOn = "depends_on"
)

// maxInstances bounds the expansion of one block, so that a typo such as a long matrix
// cannot make validation allocate without bound.
const maxInstances = 10000

// decoder holds the state of decoding one file. Every method appends its problems to
// diags and carries on with what it could decode.
type decoder struct {
	filename string
	opts     LoadOptions
	diags    hcl.Diagnostics

	vars      map[string]cty.Value
	varRanges map[string]hcl.Range
	locals    map[string]cty.Value
	localDecl map[string]hcl.Range
	ctx       *hcl.EvalContext

	blocks []*blockDecl
	byName map[string]*blockDecl
	checks []*checkDecl
}

func (d *decoder) add(diags ...*hcl.Diagnostic) { d.diags = append(d.diags, diags...) }

func (d *decoder) errorf(subject *hcl.Range, summary, detailFormat string, args ...any) {
	d.add(&hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(detailFormat, args...),
		Subject:  subject,
	})
}

func parse(filename string, src []byte, opts LoadOptions, f format) (*Experiment, hcl.Diagnostics) {
	exp := &Experiment{Path: filename, Files: map[string]*hcl.File{}, Checks: map[string]Check{}}
	var file *hcl.File
	var diags hcl.Diagnostics
	switch f {
	case formatHCL:
		file, diags = hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	case formatYAML:
		file, diags = parseYAML(filename, src)
	}
	if file != nil {
		exp.Files[filename] = file
	}
	// A file with syntax errors is not decoded further: its partial body would produce
	// follow-on errors (missing arguments, unknown references) that only confuse.
	if diags.HasErrors() || file == nil || file.Body == nil {
		sortDiagnostics(diags)
		return exp, diags
	}
	d := &decoder{
		filename:  filename,
		opts:      opts,
		diags:     diags,
		vars:      map[string]cty.Value{},
		varRanges: map[string]hcl.Range{},
		locals:    map[string]cty.Value{},
		localDecl: map[string]hcl.Range{},
		byName:    map[string]*blockDecl{},
	}
	d.decodeFile(file.Body, exp)
	sortDiagnostics(d.diags)
	return exp, d.diags
}

// rootSchema lists the top-level block types: the reserved ones and every registered stage.
func rootSchema() *hcl.BodySchema {
	s := &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
		{Type: blockVariable, LabelNames: []string{"name"}},
		{Type: blockLocals},
		{Type: blockCheck, LabelNames: []string{"name"}},
	}}
	for _, k := range stage.Kinds() {
		if isReserved(k) {
			continue // reported by decodeFile
		}
		s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: k, LabelNames: []string{"name"}})
	}
	return s
}

func isReserved(kind string) bool {
	switch kind {
	case blockVariable, blockLocals, blockCheck, "var", "local":
		return true
	}
	return false
}

func (d *decoder) decodeFile(body hcl.Body, exp *Experiment) {
	for _, k := range stage.Kinds() {
		if isReserved(k) {
			d.errorf(nil, "Invalid stage registration",
				"A stage registered the block type %q, which is reserved by the experiment file format; this is a bug in that stage.", k)
		}
	}
	content, diags := body.Content(rootSchema())
	d.add(diags...)

	// Variables first, then locals: stage blocks may use both.
	for _, b := range content.Blocks {
		if b.Type == blockVariable && !isInvalidBlock(b) {
			d.decodeVariable(b)
		}
	}
	d.checkUnknownVars()
	d.buildContext()
	var localBlocks []*hcl.Block
	for _, b := range content.Blocks {
		if b.Type == blockLocals && !isInvalidBlock(b) {
			localBlocks = append(localBlocks, b)
		}
	}
	d.decodeLocals(localBlocks)

	for _, b := range content.Blocks {
		if isInvalidBlock(b) {
			continue
		}
		switch b.Type {
		case blockVariable, blockLocals:
		case blockCheck:
			d.decodeCheck(b)
		default:
			def, ok := stage.Lookup(b.Type)
			if !ok {
				continue // cannot happen: the schema only holds registered kinds
			}
			d.decodeStageBlock(b, def)
		}
	}

	d.resolveRefs()
	d.resolveChecks(exp)
	d.findCycles()
	exp.Nodes = d.expand()
}

// blockName validates a block label that becomes part of addresses.
func (d *decoder) blockName(b *hcl.Block) (string, bool) {
	if len(b.Labels) == 0 {
		return "", false
	}
	name := b.Labels[0]
	if !hclsyntax.ValidIdentifier(name) {
		rng := b.DefRange
		if len(b.LabelRanges) > 0 {
			rng = b.LabelRanges[0]
		}
		d.errorf(&rng, "Invalid block name",
			"%q is not a valid name for a %s block: a name must start with a letter or underscore and may contain only letters, digits, underscores and dashes.", name, b.Type)
		return name, false
	}
	return name, true
}

// --- variables and locals ---------------------------------------------------------------

func (d *decoder) decodeVariable(b *hcl.Block) {
	name, ok := d.blockName(b)
	if !ok {
		return
	}
	labelRng := b.LabelRanges[0]
	if prev, dup := d.varRanges[name]; dup {
		d.errorf(&labelRng, "Duplicate variable declaration",
			"A variable named %q was already declared at %s. Variable names must be unique.", name, prev)
		return
	}
	d.varRanges[name] = b.DefRange
	content, diags := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "default"}, {Name: "description"},
	}})
	d.add(diags...)

	def := cty.NilVal
	attr, hasDefault := content.Attributes["default"]
	if hasDefault {
		// Defaults are constants: they may not refer to other variables or locals.
		v, diags := attr.Expr.Value(nil)
		d.add(diags...)
		if !diags.HasErrors() && v.IsWhollyKnown() {
			def = v
		}
	}
	if attr, ok := content.Attributes["description"]; ok {
		v, diags := attr.Expr.Value(nil)
		d.add(diags...)
		if !diags.HasErrors() && !v.IsNull() && !v.Type().Equals(cty.String) {
			d.errorf(attr.Expr.Range().Ptr(), "Invalid variable description", "The description of a variable must be a string.")
		}
	}

	val, source, set := d.variableOverride(name)
	switch {
	case set:
		v, err := convertVarString(val, def)
		if err != nil {
			d.add(&hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid value for variable",
				Detail:   fmt.Sprintf("The value %q given by %s for variable %q is invalid: %v.", val, source, name, err),
				Subject:  b.DefRange.Ptr(),
			})
			d.vars[name] = cty.DynamicVal
			return
		}
		d.vars[name] = v
	case def != cty.NilVal && !def.IsNull():
		d.vars[name] = def
	case hasDefault && def == cty.NilVal:
		d.vars[name] = cty.DynamicVal // the default failed and was reported
	default:
		d.errorf(labelRng.Ptr(), "No value for required variable",
			"The variable %q has no default, so it must be set with -var %s=<value> or the environment variable %s%s.", name, name, EnvPrefix, name)
		d.vars[name] = cty.DynamicVal
	}
}

// variableOverride looks a variable up in -var settings, then in the environment.
func (d *decoder) variableOverride(name string) (val, source string, ok bool) {
	if v, ok := d.opts.Vars[name]; ok {
		return v, fmt.Sprintf("-var %s=...", name), true
	}
	lookup := d.opts.LookupEnv
	if lookup == nil {
		lookup = lookupEnv
	}
	if v, ok := lookup(EnvPrefix + name); ok {
		return v, "environment variable " + EnvPrefix + name, true
	}
	return "", "", false
}

func (d *decoder) checkUnknownVars() {
	names := make([]string, 0, len(d.opts.Vars))
	for n := range d.opts.Vars {
		names = append(names, n)
	}
	sort.Strings(names)
	declared := sortedKeys(d.varRanges)
	for _, n := range names {
		if _, ok := d.varRanges[n]; ok {
			continue
		}
		d.add(&hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Value for undeclared variable",
			Detail: fmt.Sprintf("-var sets %q, but the experiment declares no variable of that name.%s Declared variables: %s.",
				n, didYouMean(n, declared), listOrNone(declared)),
		})
	}
}

func (d *decoder) buildContext() {
	d.ctx = &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"var":   cty.ObjectVal(d.vars),
			"local": cty.ObjectVal(d.locals),
		},
		Functions: functions,
	}
}

// functions are the few pure, bounded functions expressions may call.
var functions = map[string]function.Function{
	"concat": stdlib.ConcatFunc,
	"join":   stdlib.JoinFunc,
	"length": stdlib.LengthFunc,
	"lower":  stdlib.LowerFunc,
	"max":    stdlib.MaxFunc,
	"min":    stdlib.MinFunc,
	"range":  stdlib.RangeFunc, // capped at 1024 values by cty
	"upper":  stdlib.UpperFunc,
}

type localDef struct {
	name string
	attr *hcl.Attribute
}

// decodeLocals evaluates locals in dependency order; a local in a reference cycle or one
// that depends on a failed one gets no value.
func (d *decoder) decodeLocals(blocks []*hcl.Block) {
	var pending []localDef
	for _, b := range blocks {
		attrs, diags := b.Body.JustAttributes()
		d.add(diags...)
		defs := make([]localDef, 0, len(attrs))
		for name, a := range attrs {
			defs = append(defs, localDef{name, a})
		}
		sort.Slice(defs, func(i, j int) bool { return defs[i].attr.NameRange.Start.Byte < defs[j].attr.NameRange.Start.Byte })
		for _, l := range defs {
			if prev, dup := d.localDecl[l.name]; dup {
				d.errorf(l.attr.NameRange.Ptr(), "Duplicate local value",
					"A local value named %q was already defined at %s. Local value names must be unique.", l.name, prev)
				continue
			}
			d.localDecl[l.name] = l.attr.NameRange
			pending = append(pending, l)
		}
	}
	failed := map[string]bool{}
	for progress := true; progress && len(pending) > 0; {
		progress = false
		var rest []localDef
		for _, l := range pending {
			ready, broken := true, false
			for _, t := range l.attr.Expr.Variables() {
				if t.RootName() != "local" || len(t) < 2 {
					continue
				}
				a, ok := t[1].(hcl.TraverseAttr)
				if !ok {
					continue
				}
				if _, done := d.locals[a.Name]; done {
					continue
				}
				if failed[a.Name] {
					broken = true
				} else if _, declared := d.localDecl[a.Name]; declared {
					ready = false
				}
			}
			switch {
			case broken:
				failed[l.name] = true
				progress = true
			case ready:
				v, ok := d.value(l.attr.Expr)
				if ok && v.IsWhollyKnown() {
					d.locals[l.name] = v
				} else {
					failed[l.name] = true
				}
				d.buildContext()
				progress = true
			default:
				rest = append(rest, l)
			}
		}
		pending = rest
	}
	if len(pending) > 0 {
		names := make([]string, len(pending))
		for i, l := range pending {
			names[i] = "local." + l.name
		}
		first := pending[0].attr
		d.errorf(first.NameRange.Ptr(), "Local value cycle",
			"The local values %s refer to each other in a cycle, so none of them has a value. Break the cycle by writing one of them without the others.",
			strings.Join(names, ", "))
	}
}

// --- expressions ------------------------------------------------------------------------

// value evaluates a value expression after checking its references, so that a misspelt
// variable or a reference to a stage block gets a message that says what is allowed.
func (d *decoder) value(expr hcl.Expression) (cty.Value, bool) {
	if !d.checkTraversals(expr) {
		return cty.DynamicVal, false
	}
	v, diags := expr.Value(d.ctx)
	d.add(diags...)
	if diags.HasErrors() {
		return cty.DynamicVal, false
	}
	if !v.IsWhollyKnown() {
		// Only failed variables are unknown; their error was reported where they were declared.
		return cty.DynamicVal, false
	}
	return v, true
}

func (d *decoder) checkTraversals(expr hcl.Expression) bool {
	ok := true
	for _, t := range expr.Variables() {
		rng := t.SourceRange()
		root := t.RootName()
		switch root {
		case "var", "local":
			what, declared := "input variable", sortedKeys(d.varRanges)
			if root == "local" {
				what, declared = "local value", sortedKeys(d.localDecl)
			}
			if len(t) < 2 {
				d.errorf(&rng, "Invalid reference", "%q must be followed by a name, as in %s.example.", root, root)
				ok = false
				continue
			}
			a, isAttr := t[1].(hcl.TraverseAttr)
			if !isAttr {
				d.errorf(&rng, "Invalid reference", "A %s is referenced as %s.<name>.", what, root)
				ok = false
				continue
			}
			if !contains(declared, a.Name) {
				d.errorf(&rng, "Reference to undeclared "+what,
					"There is no %s named %q.%s Declared: %s.", what, a.Name, didYouMean(a.Name, declared), listOrNone(declared))
				ok = false
			}
		default:
			if _, isStage := stage.Lookup(root); isStage {
				d.errorf(&rng, "Block reference in a value",
					"%s refers to a %s block. References to blocks are edges of the experiment graph, not values: they may only be written in reference arguments (such as dataset = dataset.cub) and in depends_on.",
					traversalString(t), root)
			} else {
				d.errorf(&rng, "Unknown variable",
					"There is no variable named %q. Expressions may use var.<name>, local.<name> and the functions %s.%s",
					root, strings.Join(sortedKeys(functions), ", "), didYouMean(root, []string{"var", "local"}))
			}
			ok = false
		}
	}
	return ok
}

func traversalString(t hcl.Traversal) string {
	var b strings.Builder
	for i, step := range t {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			b.WriteString(s.Name)
		case hcl.TraverseAttr:
			b.WriteString("." + s.Name)
		case hcl.TraverseIndex:
			if s.Key.Type() == cty.String {
				fmt.Fprintf(&b, "[%q]", s.Key.AsString())
			} else if s.Key.Type() == cty.Number {
				fmt.Fprintf(&b, "[%s]", s.Key.AsBigFloat().Text('g', -1))
			} else {
				b.WriteString("[...]")
			}
		default:
			if i > 0 {
				b.WriteString("...")
			}
		}
	}
	return b.String()
}
