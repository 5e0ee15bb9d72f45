package spec

import (
	"context"
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

	ev *evaluator
	// While a stage block decodes: srcs receives the source of every parameter path
	// decoded (nil: not recording), attrRange is the attribute being decoded (the context
	// of derived sources), and supplied holds the paths its matrix sets per instance.
	srcs                 sources
	attrRange            *hcl.Range
	supplied             map[string]hcl.Range // matrix key -> where it was written
	kindList             []string             // the known block types, sorted (see kinds)
	varNames, localNames []string             // sorted declared names, made on the first message that lists them

	nerrs   int  // error diagnostics in diags
	tooMany bool // maxErrors reached: decoding stops
	// scope names what is being evaluated in budget messages ("local.x", "train.nir"),
	// and scopeRange, when set, is where such a message points (a local's name).
	scope          string
	scopeRange     *hcl.Range
	budgetReported bool
	graphValues    int // the expanded graph's size so far (see maxGraphValues)
	graphReported  bool
}

func (d *decoder) add(diags ...*hcl.Diagnostic) {
	for _, diag := range diags {
		if d.tooMany {
			return
		}
		if diag.Severity == hcl.DiagError {
			if d.nerrs == maxErrors {
				d.tooMany = true
				d.diags = append(d.diags, tooManyErrors(diag.Subject))
				return
			}
			d.nerrs++
		}
		d.diags = append(d.diags, diag)
	}
}

// stopped reports whether decoding should end early: interrupted, or too many errors.
func (d *decoder) stopped() bool { return d.tooMany || d.ev.interrupted() }

// tooManyErrors is the diagnostic that ends decoding after maxErrors errors, at the first
// error left out.
func tooManyErrors(at *hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Too many errors",
		Detail:   fmt.Sprintf("Decoding stopped after %d errors; fix these and validate the file again to see the rest.", maxErrors),
		Subject:  at,
	}
}

// capErrors keeps the first maxErrors errors of sorted diagnostics (a parser can report
// many on a garbled file).
func capErrors(diags hcl.Diagnostics) hcl.Diagnostics {
	n := 0
	for i, diag := range diags {
		if diag.Severity != hcl.DiagError {
			continue
		}
		if n++; n > maxErrors {
			return append(diags[:i:i], tooManyErrors(diag.Subject))
		}
	}
	return diags
}

func (d *decoder) errorf(subject *hcl.Range, summary, detailFormat string, args ...any) {
	d.add(&hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(detailFormat, args...),
		Subject:  subject,
	})
}

func parse(ctx context.Context, filename string, src []byte, opts LoadOptions, f format) (*Experiment, hcl.Diagnostics) {
	exp := &Experiment{Path: filename, Files: map[string]*hcl.File{}, Checks: map[string]Check{}}
	if ctx.Err() != nil {
		return exp, hcl.Diagnostics{interruptedDiag(ctx)}
	}
	if len(src) > maxFileSize {
		exp.Files[filename] = &hcl.File{Bytes: src}
		return exp, hcl.Diagnostics{fileTooLarge(filename, src)}
	}
	ev := newEvaluator(ctx, opts.evalBudget)
	var file *hcl.File
	var diags hcl.Diagnostics
	switch f {
	case formatHCL:
		// The parser recurses once per level of nesting; refuse deep source before it runs.
		tokens, _ := hclsyntax.LexConfig(src, filename, hcl.InitialPos)
		if diag := checkNesting(tokens, true); diag != nil {
			file, diags = &hcl.File{Bytes: src}, hcl.Diagnostics{diag}
			break
		}
		file, diags = hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
		if file != nil {
			if body, ok := file.Body.(*hclsyntax.Body); ok {
				ev.instrument(body)
			}
		}
	case formatYAML:
		file, diags = parseYAML(filename, src, ev)
	}
	if file != nil {
		exp.Files[filename] = file
	}
	// A file with syntax errors is not decoded further: its partial body would produce
	// follow-on errors (missing arguments, unknown references) that only confuse.
	if diags.HasErrors() || file == nil || file.Body == nil {
		sortDiagnostics(diags)
		return exp, capErrors(diags)
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
		ev:        ev,
	}
	d.decodeFile(file.Body, exp)
	if ev.interrupted() {
		// What was found so far is incomplete; the caller is told so and stops.
		exp.Nodes = nil
		d.add(interruptedDiag(ctx))
	}
	sortDiagnostics(d.diags)
	return exp, d.diags
}

// interruptedDiag is the diagnostic of a decoding stopped by its context. It has no range:
// the stop comes from outside the file.
func interruptedDiag(ctx context.Context) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Interrupted",
		Detail:   fmt.Sprintf("Decoding stopped before it finished (%v); the problems reported with it may be incomplete.", context.Cause(ctx)),
		Extra:    Interrupted{Err: context.Cause(ctx)},
	}
}

// Interrupted is the Extra of the diagnostic that Load and Parse add when their context
// ends decoding early; Err is the context's cause (context.Canceled, for example).
type Interrupted struct{ Err error }

// lookup returns the stage of a block type from LoadOptions.Registry.
func (d *decoder) lookup(kind string) (*stage.Def, bool) {
	return d.opts.Registry.Lookup(kind)
}

// kinds lists the known block types, sorted; made once per file.
func (d *decoder) kinds() []string {
	if d.kindList == nil {
		d.kindList = d.opts.Registry.Kinds()
		if d.kindList == nil {
			d.kindList = []string{}
		}
	}
	return d.kindList
}

// rootSchema lists the top-level block types: the reserved ones and every known stage.
func (d *decoder) rootSchema() *hcl.BodySchema {
	s := &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
		{Type: blockVariable, LabelNames: []string{"name"}},
		{Type: blockLocals},
		{Type: blockCheck, LabelNames: []string{"name"}},
	}}
	for _, k := range d.kinds() {
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
	for _, k := range d.kinds() {
		if isReserved(k) {
			d.errorf(nil, "Invalid stage registration",
				"A stage registered the block type %q, which is reserved by the experiment file format; this is a bug in that stage.", k)
		}
	}
	content, diags := body.Content(d.rootSchema())
	d.add(diags...)

	// Variables first, then locals: stage blocks may use both.
	for _, b := range content.Blocks {
		if d.stopped() {
			return
		}
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
	d.buildContext()

	for _, b := range content.Blocks {
		if d.stopped() {
			return
		}
		if isInvalidBlock(b) {
			continue
		}
		switch b.Type {
		case blockVariable, blockLocals:
		case blockCheck:
			d.scope, d.scopeRange = "check."+strings.Join(b.Labels, "."), nil
			d.decodeCheck(b)
		default:
			def, ok := d.lookup(b.Type)
			if !ok {
				continue // cannot happen: the schema only holds registered kinds
			}
			d.scope, d.scopeRange = b.Type+"."+strings.Join(b.Labels, "."), nil
			d.decodeStageBlock(b, def)
		}
	}
	d.scope, d.scopeRange = "", nil
	if d.stopped() {
		return
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

	d.scope, d.scopeRange = "var."+name, labelRng.Ptr()
	defer func() { d.scope, d.scopeRange = "", nil }()
	def := cty.NilVal
	attr, hasDefault := content.Attributes["default"]
	if hasDefault {
		// Defaults are constants: they may not refer to other variables or locals.
		if v, ok := d.valueIn(attr.Expr, nil, true); ok {
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
	defer func() {
		if v := d.vars[name]; v.IsWhollyKnown() {
			d.ev.sizes["var."+name], _ = d.ev.size(v)
		}
	}()
	switch {
	case set:
		v, err := convertVarString(val, def, d.ev)
		if err == nil {
			if n, deep := d.ev.size(v); deep {
				err = fmt.Errorf("it nests lists and objects more than %d levels deep", maxNesting)
			} else if !d.ev.spend(n) {
				err = fmt.Errorf("it is larger than the evaluation budget of %d values", evalBudget)
			}
		}
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

// buildContext makes the evaluation context of stage blocks and checks: every variable
// and every local value. Locals are evaluated each in a context of what it reads instead
// (localContext), so that n locals cost n, not n squared.
func (d *decoder) buildContext() {
	d.ctx = &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"var":   cty.ObjectVal(d.vars),
			"local": cty.ObjectVal(d.locals),
		},
		Functions: d.ev.funcs,
	}
}

func (d *decoder) localContext(deps []string) *hcl.EvalContext {
	locals := make(map[string]cty.Value, len(deps))
	for _, n := range deps {
		locals[n] = d.locals[n]
	}
	return &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": d.ctx.Variables["var"], "local": cty.ObjectVal(locals)},
		Functions: d.ev.funcs,
	}
}

// functions are the few pure, bounded functions expressions may call.
var functions = map[string]function.Function{
	"concat": stdlib.ConcatFunc,
	"join":   stdlib.JoinFunc,
	"length": stdlib.LengthFunc,
	"lower":  stdlib.LowerFunc,
	"max":    stdlib.MaxFunc,
	"merge":  mergeFunc, // deep: see mergeFunc
	"min":    stdlib.MinFunc,
	"range":  stdlib.RangeFunc, // capped at 1024 values by cty
	"upper":  stdlib.UpperFunc,
}

type localDef struct {
	name string
	attr *hcl.Attribute
}

// decodeLocals evaluates locals in dependency order (Kahn's algorithm over their
// references, ready ones in file order); a local in a reference cycle or one that depends
// on a failed one gets no value.
func (d *decoder) decodeLocals(blocks []*hcl.Block) {
	var defs []localDef
	for _, b := range blocks {
		attrs, diags := b.Body.JustAttributes()
		d.add(diags...)
		bdefs := make([]localDef, 0, len(attrs))
		for name, a := range attrs {
			bdefs = append(bdefs, localDef{name, a})
		}
		sort.Slice(bdefs, func(i, j int) bool { return bdefs[i].attr.NameRange.Start.Byte < bdefs[j].attr.NameRange.Start.Byte })
		for _, l := range bdefs {
			if prev, dup := d.localDecl[l.name]; dup {
				d.errorf(l.attr.NameRange.Ptr(), "Duplicate local value",
					"A local value named %q was already defined at %s. Local value names must be unique.", l.name, prev)
				continue
			}
			d.localDecl[l.name] = l.attr.NameRange
			defs = append(defs, l)
		}
	}
	index := make(map[string]int, len(defs))
	for i, l := range defs {
		index[l.name] = i
	}
	deps := make([][]int, len(defs))       // the declared locals each one reads, once each
	dependents := make([][]int, len(defs)) // the reverse edges
	waiting := make([]int, len(defs))      // deps not yet evaluated (or failed)
	for i, l := range defs {
		seen := map[int]bool{}
		for _, t := range l.attr.Expr.Variables() {
			if t.RootName() != "local" || len(t) < 2 {
				continue
			}
			a, ok := t[1].(hcl.TraverseAttr)
			if !ok {
				continue
			}
			j, declared := index[a.Name]
			if !declared || seen[j] {
				continue // an undeclared one is reported when the expression is checked
			}
			seen[j] = true
			deps[i] = append(deps[i], j)
			dependents[j] = append(dependents[j], i)
			waiting[i]++
		}
	}
	var queue []int
	for i := range defs {
		if waiting[i] == 0 {
			queue = append(queue, i)
		}
	}
	done := make([]bool, len(defs))
	failed := make([]bool, len(defs))
	defer func() { d.scope, d.scopeRange = "", nil }()
	for len(queue) > 0 {
		if d.stopped() {
			return
		}
		i := queue[0]
		queue = queue[1:]
		done[i] = true
		l := defs[i]
		names := make([]string, 0, len(deps[i]))
		for _, j := range deps[i] {
			failed[i] = failed[i] || failed[j]
			names = append(names, defs[j].name)
		}
		if !failed[i] {
			d.scope, d.scopeRange = "local."+l.name, l.attr.NameRange.Ptr()
			v, ok := d.valueIn(l.attr.Expr, d.localContext(names), false)
			if ok {
				d.locals[l.name] = v
				d.ev.sizes["local."+l.name], _ = d.ev.size(v)
			} else {
				failed[i] = true
			}
		}
		for _, k := range dependents[i] {
			if waiting[k]--; waiting[k] == 0 {
				queue = append(queue, k)
			}
		}
	}
	var pending []localDef
	for i, l := range defs {
		if !done[i] {
			pending = append(pending, l)
		}
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
	return d.valueIn(expr, d.ctx, false)
}

// valueIn evaluates expr in ctx within the evaluation budget. A constant (a variable's
// default) is evaluated without a context, so that hcl reports any reference in it.
//
// Once the budget is spent, an expression that reads no variable is still evaluated, so
// that literal values in the rest of the file are checked: it costs at most its source,
// since the for expressions and function calls in it stop at once (with unknown values,
// which fail here without a message).
func (d *decoder) valueIn(expr hcl.Expression, ctx *hcl.EvalContext, constant bool) (cty.Value, bool) {
	if !constant && !d.checkTraversals(expr) {
		return cty.DynamicVal, false
	}
	spent := d.ev.exhausted
	if d.ev.interrupted() || (spent && len(expr.Variables()) > 0) {
		return cty.DynamicVal, false
	}
	if !spent && !constant && !d.ev.spend(d.ev.readCost(expr.Variables(), ctx)) {
		d.budgetSpent(expr)
		return cty.DynamicVal, false
	}
	v, diags := expr.Value(ctx)
	if d.ev.interrupted() {
		return cty.DynamicVal, false
	}
	if !spent && d.ev.exhausted {
		// Errors after the budget ran out may only echo the unknown values it left.
		d.budgetSpent(expr)
		return cty.DynamicVal, false
	}
	d.add(diags...)
	if diags.HasErrors() {
		return cty.DynamicVal, false
	}
	if !spent {
		n, deep := d.ev.size(v)
		if deep {
			rng := expr.Range()
			if d.scopeRange != nil {
				rng = *d.scopeRange
			}
			d.errorf(&rng, "Value nested too deeply",
				"The value of %s nests lists and objects more than %d levels deep, counting the local values it is built from; experiment files allow at most %d. Write it flatter.",
				d.scopeName(), maxNesting, maxNesting)
			return cty.DynamicVal, false
		}
		if !d.ev.spend(n) {
			d.budgetSpent(expr)
			return cty.DynamicVal, false
		}
	}
	if !v.IsWhollyKnown() {
		// Only failed variables, and evaluation cut short by the budget, give unknown
		// values; both were reported.
		return cty.DynamicVal, false
	}
	return v, true
}

func (d *decoder) scopeName() string {
	if d.scope == "" {
		return "this expression"
	}
	return d.scope
}

// budgetSpent reports, once, that the evaluation budget ran out while evaluating expr. An
// interruption is reported by parse instead.
func (d *decoder) budgetSpent(expr hcl.Expression) {
	if d.ev.stopped || !d.ev.exhausted || d.budgetReported {
		return
	}
	d.budgetReported = true
	rng := expr.Range()
	if d.scopeRange != nil {
		rng = *d.scopeRange
	}
	d.errorf(&rng, "Evaluation budget exceeded",
		"Evaluating %s takes this file past its evaluation budget of %d values. Every value read from a variable, a local value or a for expression counts with all its elements, each time it is read (a string counts one per %d bytes), and so does every value an expression, a for expression or a function produces. The budget keeps a small file from making validation run for minutes: make the value smaller, refer to large values fewer times, or compute it outside the experiment file.",
		d.scopeName(), evalBudget, stringBytesPerValue)
}

func (d *decoder) checkTraversals(expr hcl.Expression) bool {
	ok := true
	for _, t := range expr.Variables() {
		rng := t.SourceRange()
		root := t.RootName()
		switch root {
		case "var", "local":
			what, declared, sorted := "input variable", d.varRanges, &d.varNames
			if root == "local" {
				what, declared, sorted = "local value", d.localDecl, &d.localNames
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
			if _, found := declared[a.Name]; !found {
				if *sorted == nil {
					*sorted = sortedKeys(declared) // complete by now: expressions are checked after all are declared
				}
				names := *sorted
				d.errorf(&rng, "Reference to undeclared "+what,
					"There is no %s named %q.%s Declared: %s.", what, a.Name, didYouMean(a.Name, names), listOrNone(names))
				ok = false
			}
		default:
			if _, isStage := d.lookup(root); isStage {
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
