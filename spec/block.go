package spec

import (
	"fmt"
	"sort"

	"dmlrun/stage"

	"github.com/hashicorp/hcl/v2"
)

// blockDecl is one decoded stage block before expansion.
type blockDecl struct {
	kind, name string
	def        *stage.Def
	declRange  hcl.Range
	labelRange hcl.Range
	order      int // position in the file among stage blocks

	params map[string]any // decoded values with defaults, without matrix keys or seed
	refs   []*refParam    // reference arguments and depends_on, in the order written
	srcs   sources        // where each written parameter path was written

	seeds  *axis  // nil: not expanded by seeds
	matrix []axis // in the order written

	broken     bool // an error in its own values or a cycle: no nodes, no stage check
	refsFailed bool // a reference names no block of the right type: no nodes, but its values are checked
	state      int  // expansion: 0 todo, 1 in progress, 2 done
	instances  []*Node
}

func (b *blockDecl) addr() string { return b.kind + "." + b.name }

// refParam is one argument holding references.
type refParam struct {
	param   string
	pos     int // byte offset of the argument name, for ordering
	targets []*refTarget
}

type refTarget struct {
	kind, name string
	rng        hcl.Range
	block      *blockDecl // set by resolveRefs; nil if unresolved
}

func (t *refTarget) addr() string { return t.kind + "." + t.name }

// axis is one dimension of expansion: a matrix key or the seeds.
type axis struct {
	key      string    // the parameter path it sets: "embed_dim", "schedule.lr", "seed"
	path     []string  // key's components
	label    string    // its name in instance addresses (see labelAxes)
	keyRange hcl.Range // where the key was written
	values   []any
	srcs     []sources // where each value was written, by parameter path (key and its members)
}

func commonSchema() *hcl.BodySchema {
	return &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: argSeeds}, {Name: argMatrix}, {Name: argDependsOn},
	}}
}

// paramSchema is the hcl schema of a parameter list: variants are labelled blocks,
// everything else an argument. Required-ness is checked by decodeParam, because a
// matrix key may supply a required argument.
func paramSchema(params []stage.Param) *hcl.BodySchema {
	s := &hcl.BodySchema{}
	for _, p := range params {
		if p.Variants != nil {
			s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: p.Name, LabelNames: []string{"kind"}})
		} else {
			s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: p.Name})
		}
	}
	return s
}

func (d *decoder) decodeStageBlock(b *hcl.Block, def *stage.Def) {
	name, ok := d.blockName(b)
	if !ok {
		return
	}
	bd := &blockDecl{kind: b.Type, name: name, def: def, declRange: b.DefRange, labelRange: b.LabelRanges[0], params: map[string]any{}}
	// A block with any error gets no nodes (nor do blocks that depend on it): its values
	// are incomplete, and expanding it would only produce follow-on errors.
	errorsBefore := d.nerrs
	defer func() {
		if d.nerrs > errorsBefore || !d.ev.ok() {
			bd.broken = true // (a block whose values the budget cut short is incomplete too)
		}
	}()
	if prev, dup := d.byName[bd.addr()]; dup {
		d.add(&hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Duplicate " + b.Type + " block",
			Detail: fmt.Sprintf("A %s block named %q was already declared at %s. Block names must be unique within a block type.",
				b.Type, name, prev.declRange),
			Subject: bd.labelRange.Ptr(),
		})
		return
	}
	bd.order = len(d.blocks)
	d.blocks = append(d.blocks, bd)
	d.byName[bd.addr()] = bd

	common, rest, diags := b.Body.PartialContent(commonSchema())
	d.add(diags...)
	content, diags := rest.Content(paramSchema(def.Params))
	d.add(diags...)

	// scope names the argument in evaluation-budget messages, which point at its name.
	scope := func(arg string, attrs hcl.Attributes) {
		d.scope, d.scopeRange = fmt.Sprintf("%q of %s", arg, bd.addr()), nil
		if a, ok := attrs[arg]; ok {
			d.scopeRange = a.NameRange.Ptr()
		} else if bs := content.Blocks.OfType(arg); len(bs) > 0 {
			d.scopeRange = bs[0].TypeRange.Ptr()
		}
	}
	// Matrix and seeds values note their sources per value (decodeMatrix, decodeSeeds);
	// the block's own arguments into bd.srcs.
	bd.srcs = sources{}
	defer func() { d.srcs, d.supplied, d.attrRange = nil, nil, nil }()
	if a, ok := common.Attributes[argMatrix]; ok {
		scope(argMatrix, common.Attributes)
		bd.matrix = d.decodeMatrix(bd, a, content)
	}
	if a, ok := common.Attributes[argSeeds]; ok {
		scope(argSeeds, common.Attributes)
		bd.seeds = d.decodeSeeds(bd, a, content)
	}
	d.supplied = map[string]hcl.Range{}
	for _, ax := range bd.matrix {
		d.supplied[ax.key] = ax.keyRange
	}
	d.srcs = bd.srcs
	if a, ok := common.Attributes[argDependsOn]; ok && !isNullExpr(a.Expr) {
		if ts := d.decodeRefs(a, true); ts != nil {
			bd.refs = append(bd.refs, &refParam{param: argDependsOn, pos: a.NameRange.Start.Byte, targets: ts})
		}
	}
	if def.ExpandOver != "" && (bd.seeds != nil || bd.matrix != nil) {
		d.errorf(bd.labelRange.Ptr(), "Expansion not allowed here",
			"%s blocks get one node per instance referenced by %q, so seeds and matrix cannot be used on them; put them on the referenced blocks instead.",
			b.Type, def.ExpandOver)
	}

	inMatrix := map[string]bool{} // top-level arguments the matrix supplies whole
	for _, ax := range bd.matrix {
		if len(ax.path) == 1 {
			inMatrix[ax.key] = true
		}
	}
	for i := range def.Params {
		p := &def.Params[i]
		scope(p.Name, content.Attributes)
		switch {
		case p.Type == stage.Ref || p.Type == stage.RefList:
			a, ok := content.Attributes[p.Name]
			if !ok || isNullExpr(a.Expr) {
				if p.Required {
					d.missingIn(p, b.Body.MissingItemRange(), b.DefRange)
				}
				continue
			}
			ts := d.decodeRefs(a, p.Type == stage.RefList)
			if ts != nil {
				bd.refs = append(bd.refs, &refParam{param: p.Name, pos: a.NameRange.Start.Byte, targets: ts})
			} else if es, diags := hcl.ExprList(a.Expr); !diags.HasErrors() && len(es) == 0 && (p.Required || p.Name == def.ExpandOver) {
				d.errorf(a.Expr.Range().Ptr(), "Empty reference list",
					"%q must list at least one %s block, such as [%s.example].", p.Name, refKindOr(p.RefKind), refKindOr(p.RefKind))
			}
		case inMatrix[p.Name] || (p.Name == "seed" && bd.seeds != nil):
			// supplied per instance
		default:
			if v, set := d.decodeParam(p, p.Name, p.Name, content, b.Body.MissingItemRange(), b.DefRange); set {
				bd.params[p.Name] = v
			}
		}
	}
	d.matrixConflicts(bd)
	sort.SliceStable(bd.refs, func(i, j int) bool { return bd.refs[i].pos < bd.refs[j].pos })
}

// suppliedWithin reports whether the matrix supplies path or a member of it in every
// instance, so that a required path is not missing.
func (d *decoder) suppliedWithin(path string) bool {
	_, ok := d.suppliedAt(path)
	return ok
}

// suppliedAt returns the range of the first matrix key (in sorted order) that supplies
// path or a member of it.
func (d *decoder) suppliedAt(path string) (hcl.Range, bool) {
	for _, k := range sortedKeys(d.supplied) {
		if within(k, path) {
			return d.supplied[k], true
		}
	}
	return hcl.Range{}, false
}

// decodeParam decodes one non-reference parameter from a body's content; it returns the
// canonical value and whether the parameter has one (written or defaulted). path is the
// parameter's path ("loss.w_align" for a field of a variant block).
func (d *decoder) decodeParam(p *stage.Param, what, path string, content *hcl.BodyContent, missing, context hcl.Range) (any, bool) {
	if p.Variants != nil {
		blocks := content.Blocks.OfType(p.Name)
		if len(blocks) == 0 {
			if p.Required {
				d.missingIn(p, missing, context)
				return nil, false
			}
			return d.defaultValue(p, path)
		}
		for _, extra := range blocks[1:] {
			d.add(&hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate " + p.Name + " block",
				Detail:   fmt.Sprintf("Only one %s block is allowed here; the first one is at %s.", p.Name, blocks[0].DefRange),
				Subject:  extra.DefRange.Ptr(),
			})
		}
		if len(blocks[0].LabelRanges) > 0 {
			d.noteRange(path, blocks[0].LabelRanges[0])
		}
		return d.decodeVariant(p, path, blocks[0])
	}
	a, ok := content.Attributes[p.Name]
	if !ok || isNullExpr(a.Expr) {
		if p.Required && !d.suppliedWithin(path) {
			d.missingIn(p, missing, context)
			return nil, false
		}
		return d.defaultValue(p, path)
	}
	outer := d.attrRange
	d.attrRange = a.Range.Ptr()
	defer func() { d.attrRange = outer }()
	v, ok := d.decodeValue(p, what, path, a.Expr)
	if !ok {
		return nil, false
	}
	return v, true
}

func (d *decoder) missingIn(p *stage.Param, missing, context hcl.Range) {
	summary, detail := "Missing required argument", fmt.Sprintf("The argument %q is required, but no definition was found.", p.Name)
	if p.Variants != nil {
		summary = "Missing required block"
		detail = fmt.Sprintf("A %s block is required, but no definition was found. Its kinds are %s.", p.Name, quoteList(sortedKeys(p.Variants)))
	}
	if p.Doc != "" {
		detail += " " + p.Name + ": " + p.Doc
	}
	d.add(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: missing.Ptr(), Context: context.Ptr()})
}

// decodeVariant decodes `loss "nir" { ... }` into {"kind": "nir", <fields with defaults>};
// path is the parameter's path ("loss").
func (d *decoder) decodeVariant(p *stage.Param, path string, b *hcl.Block) (any, bool) {
	if isInvalidBlock(b) {
		return nil, false
	}
	label := b.Labels[0]
	fields, ok := p.Variants[label]
	if !ok {
		kinds := sortedKeys(p.Variants)
		d.errorf(b.LabelRanges[0].Ptr(), "Unknown "+p.Name+" kind",
			"%q is not a %s kind; the kinds are %s.%s", label, p.Name, quoteList(kinds), stage.Suggest(label, kinds, p.Aliases))
		// The body is not checked: without the variant's schema every argument in it would
		// be reported, which only repeats this error.
		return nil, false
	}
	content, diags := b.Body.Content(paramSchema(fields))
	d.add(diags...)
	out := map[string]any{"kind": label}
	good := true
	for i := range fields {
		f := &fields[i]
		if f.Type == stage.Ref || f.Type == stage.RefList {
			d.errorf(b.DefRange.Ptr(), "Invalid stage schema",
				"The %s kind %q declares the reference parameter %q; references are only supported at the top of a stage block. This is a bug in the stage.", p.Name, label, f.Name)
			continue
		}
		fpath := stage.JoinPath(path, f.Name)
		v, set := d.decodeParam(f, p.Name+"."+f.Name, fpath, content, b.Body.MissingItemRange(), b.DefRange)
		if set {
			out[f.Name] = v
		} else if f.Required && !d.suppliedWithin(fpath) {
			good = false
		}
	}
	return out, good
}

// isNullExpr reports whether an expression is the literal null, which means "not set".
func isNullExpr(expr hcl.Expression) bool {
	if len(expr.Variables()) > 0 {
		return false
	}
	v, diags := expr.Value(nil)
	return !diags.HasErrors() && v.IsNull()
}

// invalidBody marks a block whose source could not be read as one (a YAML scalar where a
// mapping was expected). The error is already reported; the block stands in for what was
// written so that decoding does not also report it as missing.
type invalidBody interface{ invalidBlock() }

func isInvalidBlock(b *hcl.Block) bool {
	_, bad := b.Body.(invalidBody)
	return bad
}

func refKindOr(kind string) string {
	if kind == "" {
		return "other"
	}
	return kind
}
