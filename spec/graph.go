package spec

import (
	"fmt"
	"sort"
	"strings"

	"dmlrun/dag"
	"dmlrun/stage"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// --- seeds and matrix -------------------------------------------------------------------

// decodeSeeds decodes seeds into the "seed" axis, each seed noted at its element.
func (d *decoder) decodeSeeds(bd *blockDecl, a *hcl.Attribute, content *hcl.BodyContent) *axis {
	if isNullExpr(a.Expr) {
		return nil
	}
	if p := findParam(bd.def.Params, "seed"); p != nil {
		if sa, ok := content.Attributes["seed"]; ok {
			d.errorf(sa.NameRange.Ptr(), "Conflicting definitions",
				"\"seed\" is set here and by seeds (at %s); remove one of them.", a.NameRange)
			return nil
		}
	}
	for _, ax := range bd.matrix {
		if ax.key == "seed" {
			d.errorf(a.NameRange.Ptr(), "Conflicting definitions",
				"seeds and matrix both set \"seed\"; list the seeds in one of them.")
			return nil
		}
	}
	d.srcs, d.attrRange = sources{}, a.Range.Ptr()
	v, ok := d.decodeValue(&stage.Param{Name: argSeeds, Type: stage.IntList,
		Doc: "one node per seed, e.g. seeds = [0, 1, 2]"}, argSeeds, argSeeds, a.Expr)
	noted := d.srcs
	d.srcs, d.attrRange = nil, nil
	if !ok {
		return nil
	}
	seeds := v.([]int64)
	if len(seeds) == 0 {
		d.errorf(a.Expr.Range().Ptr(), "Empty seeds", "seeds must list at least one seed; remove the argument for a single unseeded node.")
		return nil
	}
	ax := &axis{key: "seed", path: []string{"seed"}, keyRange: a.NameRange}
	seen := map[int64]bool{}
	for i, s := range seeds {
		if seen[s] {
			d.errorf(a.Expr.Range().Ptr(), "Duplicate seed", "The seed %d is listed twice; each seed makes one node.", s)
			return nil
		}
		seen[s] = true
		ax.values = append(ax.values, s)
		ax.srcs = append(ax.srcs, sources{"seed": noted[fmt.Sprintf("%s[%d]", argSeeds, i)]})
	}
	return ax
}

// decodeMatrix decodes the matrix argument into axes, in the order written. A key is an
// argument of the block ("embed_dim") or a path into an object argument or a variant block
// ("schedule.lr", "loss.w_align"); each value is decoded as that parameter, its sources
// noted per value.
func (d *decoder) decodeMatrix(bd *blockDecl, a *hcl.Attribute, content *hcl.BodyContent) []axis {
	if isNullExpr(a.Expr) {
		return nil
	}
	mp := &stage.Param{Name: argMatrix, Type: stage.Object}
	// Keys that failed are reported; the others are still checked.
	pairs, _ := d.pairs(mp, argMatrix, a.Expr)
	var axes []axis
	seen := map[string]hcl.Range{}
	for _, kv := range pairs {
		what := argMatrix + "." + kv.key
		p, path, ok := d.matrixTarget(bd, kv.key, kv.keyRange, content)
		if !ok {
			continue
		}
		key := strings.Join(path, ".")
		if prev, dup := seen[key]; dup {
			d.errorf(kv.keyRange.Ptr(), "Duplicate matrix key", "The matrix key %q was already given at %s.", kv.key, prev)
			continue
		}
		seen[key] = kv.keyRange
		if attr, ok := content.Attributes[p.Name]; ok && len(path) == 1 {
			d.errorf(attr.NameRange.Ptr(), "Conflicting definitions",
				"%q is set here and by matrix (at %s); remove one of them.", p.Name, kv.keyRange)
			continue
		}
		elems, ok := d.listElems(&stage.Param{Name: what}, what, "a list of values for "+key, kv.value)
		if !ok {
			continue
		}
		if len(elems) == 0 {
			d.errorf(kv.value.Range().Ptr(), "Empty matrix axis", "%s must list at least one value.", what)
			continue
		}
		ax := axis{key: key, path: path, keyRange: kv.keyRange}
		labels := map[string]bool{}
		good := true
		for i, e := range elems {
			if isNullExpr(e) {
				d.errorf(e.Range().Ptr(), "Invalid value", "%s[%d] is null; every matrix value must be a value of %q.", what, i, key)
				good = false
				continue
			}
			d.srcs, d.attrRange = sources{}, a.Range.Ptr()
			v, ok := d.decodeValue(p, fmt.Sprintf("%s[%d]", what, i), key, e)
			noted := d.srcs
			d.srcs, d.attrRange = nil, nil
			if !ok {
				good = false
				continue
			}
			if l := formatValue(v); labels[l] {
				d.errorf(e.Range().Ptr(), "Duplicate matrix value", "%s lists %s twice; each value makes its own nodes.", what, l)
				good = false
				continue
			} else {
				labels[l] = true
			}
			ax.values = append(ax.values, v)
			ax.srcs = append(ax.srcs, noted)
		}
		if good {
			axes = append(axes, ax)
		}
	}
	// One key inside another ("schedule" and "schedule.lr") would set the same value twice.
	for i := range axes {
		for j := range axes {
			if i != j && within(axes[j].key, axes[i].key) {
				d.errorf(axes[j].keyRange.Ptr(), "Conflicting matrix keys",
					"The matrix sets %q and, at %s, all of %q; sweep one of them.", axes[j].key, axes[i].keyRange, axes[i].key)
			}
		}
	}
	return axes
}

// matrixTarget resolves a matrix key to the parameter it sets and its path. A key that is
// not an argument of the block is read as a path of names joined by dots: the first names
// an object argument or a variant block, the next its fields (of the kind written, for a
// variant block), and so on into nested objects. Unknown names are reported at the key
// with the nearest valid path.
func (d *decoder) matrixTarget(bd *blockDecl, key string, keyRange hcl.Range, content *hcl.BodyContent) (*stage.Param, []string, bool) {
	var valueParams, nested []string
	for _, p := range bd.def.Params {
		switch {
		case p.Type == stage.Ref || p.Type == stage.RefList:
		case p.Variants != nil:
			nested = append(nested, p.Name)
		default:
			valueParams = append(valueParams, p.Name)
			if p.Type == stage.Object {
				nested = append(nested, p.Name)
			}
		}
	}
	if p := findParam(bd.def.Params, key); p != nil {
		if !contains(valueParams, p.Name) {
			hint := ""
			if p.Variants != nil {
				hint = fmt.Sprintf(" To sweep a field of the %s block, write its path, such as \"%s.<field>\".", p.Name, p.Name)
			}
			d.errorf(keyRange.Ptr(), "Invalid matrix key",
				"%q cannot be varied by matrix: only value arguments can (not references or nested blocks).%s", key, hint)
			return nil, nil, false
		}
		return p, []string{key}, true
	}
	parts := strings.Split(key, ".")
	if len(parts) == 1 {
		hint := didYouMean(key, valueParams)
		if key == "seed" {
			hint = " Use seeds = [...] to expand over seeds."
		}
		d.errorf(keyRange.Ptr(), "Unsupported matrix key",
			"matrix keys must be arguments of %s blocks, and %q is not one.%s Arguments: %s.", bd.kind, key, hint, listOrNone(valueParams))
		return nil, nil, false
	}
	for _, part := range parts {
		if part == "" {
			d.errorf(keyRange.Ptr(), "Invalid matrix key",
				"%q is not a parameter path: a path is names joined by single dots, such as \"schedule.lr\".", key)
			return nil, nil, false
		}
	}
	cur := findParam(bd.def.Params, parts[0])
	if cur == nil || cur.Type == stage.Ref || cur.Type == stage.RefList {
		hint := ""
		if s := nearest(parts[0], nested); s != "" {
			hint = fmt.Sprintf(" Did you mean %q?", strings.Join(append([]string{s}, parts[1:]...), "."))
		}
		d.errorf(keyRange.Ptr(), "Unsupported matrix key",
			"A matrix path starts with an object argument or a nested block of %s blocks, and %q is neither.%s Those are: %s.",
			bd.kind, parts[0], hint, listOrNone(nested))
		return nil, nil, false
	}
	for i := 1; i < len(parts); i++ {
		at := strings.Join(parts[:i], ".")
		var fields []string
		var fieldParams []stage.Param
		what := fmt.Sprintf("%q", at)
		switch {
		case cur.Variants != nil && i == 1:
			kind, known, absent := d.variantKind(cur, content)
			if absent {
				d.errorf(keyRange.Ptr(), "Invalid matrix key",
					"%q sweeps a field of the %s block, but there is no %s block: write one, such as %s \"<kind>\" {}.", key, cur.Name, cur.Name, cur.Name)
				return nil, nil, false
			}
			if !known {
				return nil, nil, false // an unknown kind is reported at the block's label
			}
			if parts[i] == "kind" {
				d.errorf(keyRange.Ptr(), "Invalid matrix key",
					"The kind of a %s block cannot be swept by matrix, because each kind has its own fields; write one block per kind.", cur.Name)
				return nil, nil, false
			}
			fieldParams, what = cur.Variants[kind], fmt.Sprintf("the %q kind of %s", kind, cur.Name)
		case cur.Variants == nil && cur.Type == stage.Object:
			fieldParams = cur.Fields
		default:
			d.errorf(keyRange.Ptr(), "Invalid matrix key",
				"%q goes into %q, which is %s and has no fields; a matrix path goes into object arguments and variant blocks.", key, at, article(cur.Type))
			return nil, nil, false
		}
		fields = paramNames(fieldParams)
		f := findParam(fieldParams, parts[i])
		if f == nil {
			hint := ""
			if s := nearest(parts[i], fields); s != "" {
				hint = fmt.Sprintf(" Did you mean %q?", strings.Join(append(append([]string{}, parts[:i]...), s), "."))
			}
			d.errorf(keyRange.Ptr(), "Unsupported matrix key",
				"%s has no field %q.%s Its fields are %s.", upperFirst(what), parts[i], hint, listOrNone(fields))
			return nil, nil, false
		}
		cur = f
	}
	if cur.Variants != nil || cur.Type == stage.Ref || cur.Type == stage.RefList {
		d.errorf(keyRange.Ptr(), "Invalid matrix key",
			"%q cannot be varied by matrix: only values can (not references or nested blocks).", key)
		return nil, nil, false
	}
	return cur, parts, true
}

// variantKind is the kind of a block's variant parameter: the label written, else the
// default kind. known is false when the block is written with a kind that is not one of
// the parameter's (reported where the block is decoded), absent when there is neither a
// block nor a default kind.
func (d *decoder) variantKind(p *stage.Param, content *hcl.BodyContent) (kind string, known, absent bool) {
	if bs := content.Blocks.OfType(p.Name); len(bs) > 0 {
		if isInvalidBlock(bs[0]) || len(bs[0].Labels) == 0 {
			return "", false, false
		}
		kind = bs[0].Labels[0]
	} else {
		switch x := p.Default.(type) {
		case string:
			kind = x
		case map[string]any:
			kind, _ = x["kind"].(string)
		}
		if kind == "" {
			return "", false, true
		}
	}
	_, known = p.Variants[kind]
	return kind, known, false
}

// matrixConflicts reports a value written out in the block that a matrix path also sets
// per instance: `schedule = { lr = 1e-3 }` beside `matrix = { "schedule.lr" = [...] }`.
// A member of a value computed by an expression (schedule = local.schedule, var.x, merge(...))
// is not written out: it is the base that the matrix overrides, so that a shared schedule can
// be swept without being copied.
func (d *decoder) matrixConflicts(bd *blockDecl) {
	for _, ax := range bd.matrix {
		if len(ax.path) == 1 {
			continue // checked when the matrix was decoded
		}
		for _, path := range sortedKeys(bd.srcs) {
			if !within(path, ax.key) || bd.srcs[path].derived {
				continue
			}
			s := bd.srcs[path]
			d.add(&hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Conflicting definitions",
				Detail:   fmt.Sprintf("%q is set here and by matrix (at %s); remove one of them.", path, ax.keyRange),
				Subject:  s.subject.Ptr(),
				Context:  s.context,
			})
			break
		}
	}
}

// labelAxes names each axis in instance addresses: the last component of its path when no
// other axis of the block ends in the same name (lr for "schedule.lr"), else the whole path;
// then sorts the axes by label, which is the order of addresses' key=value pairs and of
// nodes (the first label varies slowest).
func labelAxes(axes []axis) {
	count := map[string]int{}
	for _, ax := range axes {
		count[ax.path[len(ax.path)-1]]++
	}
	for i := range axes {
		last := axes[i].path[len(axes[i].path)-1]
		axes[i].label = last
		if count[last] > 1 {
			axes[i].label = axes[i].key
		}
	}
	sort.SliceStable(axes, func(i, j int) bool { return axes[i].label < axes[j].label })
}

// --- references -------------------------------------------------------------------------

// decodeRefs turns a reference argument into targets, each with the range it was written at.
func (d *decoder) decodeRefs(a *hcl.Attribute, list bool) []*refTarget {
	exprs := []hcl.Expression{a.Expr}
	if list {
		es, diags := hcl.ExprList(a.Expr)
		if _, single := hcl.AbsTraversalForExpr(unwrapTemplate(a.Expr)); diags.HasErrors() && !single.HasErrors() {
			// A single reference where a list is expected means a list of one:
			// `from = evaluate.test` reads as `from = [evaluate.test]`.
			es, diags = []hcl.Expression{a.Expr}, nil
		}
		if diags.HasErrors() {
			d.errorf(a.Expr.Range().Ptr(), "Invalid reference list",
				"%q must be a list of block references such as [train.baseline, train.nir].", a.Name)
			return nil
		}
		exprs = es
	}
	var out []*refTarget
	seen := map[string]hcl.Range{}
	for _, e := range exprs {
		t := d.refTarget(a.Name, e)
		if t == nil {
			continue
		}
		if prev, dup := seen[t.addr()]; dup {
			d.errorf(t.rng.Ptr(), "Duplicate reference", "%s is already referenced by %q at %s.", t.addr(), a.Name, prev)
			continue
		}
		seen[t.addr()] = t.rng
		out = append(out, t)
	}
	return out
}

func (d *decoder) refTarget(param string, e hcl.Expression) *refTarget {
	trav, diags := hcl.AbsTraversalForExpr(unwrapTemplate(e))
	if diags.HasErrors() || len(trav) != 2 {
		hint := ""
		if _, quoted := e.(*hclsyntax.TemplateExpr); quoted {
			hint = " A reference is written without quotes."
		}
		if len(trav) > 2 {
			hint = fmt.Sprintf(" %s selects inside a block, which is not supported; a reference names a whole block.", traversalString(trav))
		}
		d.errorf(e.Range().Ptr(), "Invalid reference",
			"%q must name a block as <kind>.<name>, such as dataset.cub.%s", param, hint)
		return nil
	}
	attr, ok := trav[1].(hcl.TraverseAttr)
	if !ok {
		d.errorf(e.Range().Ptr(), "Invalid reference", "%q must name a block as <kind>.<name>, such as dataset.cub.", param)
		return nil
	}
	return &refTarget{kind: trav.RootName(), name: attr.Name, rng: trav.SourceRange()}
}

// resolveRefs finds the block of every reference target; unknown ones are reported at the
// reference, naming the block that wrote it and the missing target.
func (d *decoder) resolveRefs() {
	kinds := d.kinds()
	for _, bd := range d.blocks {
		for _, rp := range bd.refs {
			want := ""
			if p := findParam(bd.def.Params, rp.param); p != nil {
				want = p.RefKind
			}
			for _, t := range rp.targets {
				if !d.resolve(t, fmt.Sprintf("%q of %s", rp.param, bd.addr()), kinds) {
					bd.refsFailed = true
					continue
				}
				if want != "" && t.kind != want {
					d.errorf(t.rng.Ptr(), "Wrong reference type",
						"The argument %q of %s must refer to a %s block, but %s is a %s block.", rp.param, bd.addr(), want, t.addr(), t.kind)
					bd.refsFailed = true
					t.block = nil
				}
			}
		}
	}
}

// resolve sets t.block, or reports why it cannot; from names the referring argument.
func (d *decoder) resolve(t *refTarget, from string, kinds []string) bool {
	if _, ok := d.lookup(t.kind); !ok {
		d.errorf(t.rng.Ptr(), "Reference to unknown block type",
			"%s refers to %s, but there are no %q blocks.%s Block types: %s.",
			from, t.addr(), t.kind, didYouMean(t.kind, kinds), listOrNone(kinds))
		return false
	}
	target, ok := d.byName[t.addr()]
	if !ok {
		var names []string
		for _, b := range d.blocks {
			if b.kind == t.kind {
				names = append(names, b.name)
			}
		}
		hint := ""
		if s := nearest(t.name, names); s != "" {
			hint = fmt.Sprintf(" Did you mean %s.%s?", t.kind, s)
		}
		d.errorf(t.rng.Ptr(), "Reference to undeclared block",
			"%s refers to %s, which is not declared.%s Declared %s blocks: %s.",
			from, t.addr(), hint, t.kind, listOrNone(names))
		return false
	}
	t.block = target
	return true
}

// --- checks -----------------------------------------------------------------------------

type checkDecl struct {
	name                string
	rng                 hcl.Range
	baseline, candidate *refTarget
	tolerances          map[string]float64
}

func (d *decoder) decodeCheck(b *hcl.Block) {
	name, ok := d.blockName(b)
	if !ok {
		return
	}
	for _, c := range d.checks {
		if c.name == name {
			d.errorf(b.LabelRanges[0].Ptr(), "Duplicate check block",
				"A check block named %q was already declared at %s. Block names must be unique within a block type.", name, c.rng)
			return
		}
	}
	c := &checkDecl{name: name, rng: b.DefRange}
	d.checks = append(d.checks, c)
	content, diags := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "baseline", Required: true}, {Name: "candidate", Required: true}, {Name: "tolerances", Required: true},
	}})
	d.add(diags...)
	if a, ok := content.Attributes["baseline"]; ok {
		c.baseline = d.refTarget("baseline", a.Expr)
	}
	if a, ok := content.Attributes["candidate"]; ok {
		c.candidate = d.refTarget("candidate", a.Expr)
	}
	if a, ok := content.Attributes["tolerances"]; ok {
		p := &stage.Param{Name: "tolerances", Type: stage.Map, Doc: "metric name -> largest allowed drop, e.g. { \"e_recall@1\" = 0.02 }"}
		if v, ok := d.decodeValue(p, "tolerances", "tolerances", a.Expr); ok {
			c.tolerances = v.(map[string]float64)
			for _, k := range sortedKeys(c.tolerances) {
				if c.tolerances[k] < 0 {
					d.errorf(a.Expr.Range().Ptr(), "Invalid tolerance",
						"The tolerance of %q is %g; a tolerance is the largest allowed drop and must not be negative.", k, c.tolerances[k])
				}
			}
		}
	}
}

func (d *decoder) resolveChecks(exp *Experiment) {
	kinds := d.kinds()
	for _, c := range d.checks {
		from := "check." + c.name
		ok := c.baseline != nil && c.candidate != nil && c.tolerances != nil
		if c.baseline != nil && !d.resolve(c.baseline, from, kinds) {
			ok = false
		}
		if c.candidate != nil && !d.resolve(c.candidate, from, kinds) {
			ok = false
		}
		if ok {
			exp.Checks[c.name] = Check{Baseline: c.baseline.addr(), Candidate: c.candidate.addr(), Tolerances: c.tolerances, Range: c.rng}
		}
	}
}

// --- cycles -----------------------------------------------------------------------------

// findCycles reports every strongly connected group of blocks once, naming its members in
// file order and one path through them, and marks them broken.
func (d *decoder) findCycles() {
	g := dag.New(func(b *blockDecl) string { return b.addr() })
	for _, b := range d.blocks {
		g.Add(b)
	}
	for _, b := range d.blocks {
		for _, rp := range b.refs {
			for _, t := range rp.targets {
				if t.block != nil {
					g.Connect(b, t.block) // b depends on its target; references in the order written
				}
			}
		}
	}
	for _, c := range g.Cycles() {
		names := make([]string, len(c.Members))
		for i, b := range c.Members {
			names[i] = b.addr()
			b.broken = true
		}
		var steps []string
		var first *refTarget
		for i := 0; i+1 < len(c.Path); i++ {
			param, t := firstRef(c.Path[i], c.Path[i+1])
			if first == nil {
				first = t
			}
			steps = append(steps, fmt.Sprintf("%s refers to %s (%q at %s)", c.Path[i].addr(), t.addr(), param, rangeStart(t.rng)))
		}
		d.add(&hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Reference cycle",
			Detail: fmt.Sprintf("Blocks in the cycle: %s. %s. A block cannot depend on itself, directly or through other blocks; remove one of these references.",
				strings.Join(names, ", "), strings.Join(steps, ", and ")),
			Subject: first.rng.Ptr(),
			Context: c.Members[0].declRange.Ptr(),
		})
	}
}

// firstRef returns the first reference, in the order written, from one block to another.
func firstRef(from, to *blockDecl) (string, *refTarget) {
	for _, rp := range from.refs {
		for _, t := range rp.targets {
			if t.block == to {
				return rp.param, t
			}
		}
	}
	panic("spec: a cycle step without a reference (bug)")
}

func rangeStart(r hcl.Range) string {
	return fmt.Sprintf("%s:%d,%d", r.Filename, r.Start.Line, r.Start.Column)
}

// --- expansion --------------------------------------------------------------------------

func (d *decoder) expand() []*Node {
	for _, bd := range d.blocks {
		if d.stopped() {
			return nil
		}
		d.expandBlock(bd)
	}
	var out []*Node
	for _, bd := range d.blocks {
		out = append(out, bd.instances...)
	}
	return out
}

func (d *decoder) expandBlock(bd *blockDecl) {
	if bd.state != 0 {
		if bd.state == 1 {
			bd.broken = true // a cycle; reported by findCycles
		}
		return
	}
	bd.state = 1
	defer func() { bd.state = 2 }()
	// A block whose own arguments decoded but whose references or their targets failed gets
	// no nodes, but its stage still checks its values, so that one validation reports every
	// problem of the file.
	depBroken := bd.refsFailed
	for _, rp := range bd.refs {
		for _, t := range rp.targets {
			if t.block == nil {
				depBroken = true
				continue
			}
			d.expandBlock(t.block)
			if t.block.broken {
				depBroken = true
			}
		}
	}
	if bd.broken {
		return
	}
	defer func() {
		if depBroken {
			bd.broken = true
		}
	}()

	type instance struct {
		label string
		vals  []int // the index of its value on each axis
		over  *Node // the referenced node this instance expands over
	}
	var insts []instance
	var axes []axis
	if over := bd.def.ExpandOver; over != "" {
		for _, rp := range bd.refs {
			if rp.param != over || depBroken {
				continue
			}
			for _, t := range rp.targets {
				for _, n := range t.block.instances {
					insts = append(insts, instance{label: n.Addr.String(), over: n})
				}
			}
		}
		if len(insts) == 0 {
			insts = []instance{{}}
		}
	} else {
		axes = append([]axis(nil), bd.matrix...)
		if bd.seeds != nil {
			axes = append(axes, *bd.seeds)
		}
		labelAxes(axes)
		total := 1
		for _, ax := range axes {
			total *= len(ax.values)
			if total > maxInstances {
				d.errorf(bd.labelRange.Ptr(), "Too many instances",
					"%s expands to more than %d nodes through its seeds and matrix; split it into several blocks.", bd.addr(), maxInstances)
				bd.broken = true
				return
			}
		}
		idx := make([]int, len(axes))
		for range total {
			inst := instance{vals: append([]int(nil), idx...)}
			parts := make([]string, len(axes))
			for a, ax := range axes {
				parts[a] = ax.label + "=" + formatValue(ax.values[idx[a]])
			}
			inst.label = strings.Join(parts, ",")
			insts = append(insts, inst)
			// Odometer: the last axis turns fastest, so the first (sorted) label is outermost.
			for a := len(axes) - 1; a >= 0; a-- {
				idx[a]++
				if idx[a] < len(axes[a].values) {
					break
				}
				idx[a] = 0
			}
		}
	}

	// Bound the whole graph before building it: nodes copy their parameters, and every
	// instance of a target is an edge of every node that refers to it.
	perNode := 1 + valuesIn(map[string]any(bd.params))
	for _, rp := range bd.refs {
		for _, t := range rp.targets {
			switch {
			case depBroken:
			case rp.param == bd.def.ExpandOver:
				perNode++
			default:
				perNode += len(t.block.instances)
			}
		}
	}
	for _, ax := range bd.matrix {
		most := 0
		for _, v := range ax.values {
			most = max(most, valuesIn(v))
		}
		perNode += most
	}
	if d.graphValues += len(insts) * perNode; d.graphValues > maxGraphValues {
		if !d.graphReported {
			d.graphReported = true
			d.errorf(bd.labelRange.Ptr(), "Experiment too large",
				"With %s the experiment expands to more than %d values: every node counts one, plus its parameter values and its edges (a reference to a block with n instances is n edges of every node that makes it). Use fewer seeds or matrix values, or split the experiment into several files.",
				bd.addr(), maxGraphValues)
		}
		bd.broken = true
		return
	}
	seen := map[problemKey]bool{}
	overlays := make([]sources, len(axes))
	for i, inst := range insts {
		if d.stopped() {
			return
		}
		params := stage.Params(deepCopy(bd.params).(map[string]any))
		for a, ax := range axes {
			setPath(params, ax.path, deepCopy(ax.values[inst.vals[a]]))
			overlays[a] = ax.srcs[inst.vals[a]]
		}
		// Instances without axes (those of a block expanding over references) share their
		// parameters, so their stage checks them once.
		if bd.def.Decode != nil && (len(axes) > 0 || i == 0) {
			d.checkConfig(bd, params, overlays, seen)
		}
		if depBroken {
			continue
		}
		n := &Node{
			Addr:      Addr{Kind: bd.kind, Name: bd.name, Instance: inst.label},
			Params:    params,
			DeclRange: bd.declRange,
		}
		for _, rp := range bd.refs {
			for _, t := range rp.targets {
				if inst.over != nil && rp.param == bd.def.ExpandOver {
					if inst.over.Addr.Block() == t.addr() {
						n.Inputs = append(n.Inputs, Ref{Param: rp.param, Target: inst.over.Addr, Range: t.rng})
					}
					continue
				}
				for _, tn := range t.block.instances {
					n.Inputs = append(n.Inputs, Ref{Param: rp.param, Target: tn.Addr, Range: t.rng})
				}
			}
		}
		bd.instances = append(bd.instances, n)
	}
}

// setPath sets the member of params at path (["schedule", "lr"]) to v. The objects on the
// way exist: decoding filled every object argument, and variant block, that a matrix path
// goes into (matrixTarget refuses paths into ones that are absent).
func setPath(params map[string]any, path []string, v any) {
	m := params
	for _, name := range path[:len(path)-1] {
		next, ok := m[name].(map[string]any)
		if !ok {
			panic(fmt.Sprintf("spec: matrix path %s goes into %T, not an object (bug)", strings.Join(path, "."), m[name]))
		}
		m = next
	}
	m[path[len(path)-1]] = v
}

// unwrapTemplate lets a reference be written as "${dataset.cub}" too, in both formats:
// hcl does not look through a template that is a single interpolation.
func unwrapTemplate(e hcl.Expression) hcl.Expression {
	if w, ok := e.(*hclsyntax.TemplateWrapExpr); ok {
		return w.Wrapped
	}
	return e
}
