package spec

import (
	"fmt"
	"sort"
	"strings"

	"dmlrun/stage"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// --- seeds and matrix -------------------------------------------------------------------

func (d *decoder) decodeSeeds(bd *blockDecl, a *hcl.Attribute, content *hcl.BodyContent) []int64 {
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
	v, ok := d.decodeValue(&stage.Param{Name: argSeeds, Type: stage.IntList,
		Doc: "one node per seed, e.g. seeds = [0, 1, 2]"}, argSeeds, a.Expr)
	if !ok {
		return nil
	}
	seeds := v.([]int64)
	if len(seeds) == 0 {
		d.errorf(a.Expr.Range().Ptr(), "Empty seeds", "seeds must list at least one seed; remove the argument for a single unseeded node.")
		return nil
	}
	seen := map[int64]bool{}
	for _, s := range seeds {
		if seen[s] {
			d.errorf(a.Expr.Range().Ptr(), "Duplicate seed", "The seed %d is listed twice; each seed makes one node.", s)
			return nil
		}
		seen[s] = true
	}
	return seeds
}

func (d *decoder) decodeMatrix(bd *blockDecl, a *hcl.Attribute, content *hcl.BodyContent) []axis {
	if isNullExpr(a.Expr) {
		return nil
	}
	mp := &stage.Param{Name: argMatrix, Type: stage.Object}
	pairs, ok := d.pairs(mp, argMatrix, a.Expr)
	if !ok {
		return nil
	}
	var valueParams []string
	for _, p := range bd.def.Params {
		if p.Type != stage.Ref && p.Type != stage.RefList && p.Variants == nil {
			valueParams = append(valueParams, p.Name)
		}
	}
	var axes []axis
	seen := map[string]hcl.Range{}
	for _, kv := range pairs {
		what := argMatrix + "." + kv.key
		p := findParam(bd.def.Params, kv.key)
		if p == nil {
			hint := didYouMean(kv.key, valueParams)
			if kv.key == "seed" {
				hint = " Use seeds = [...] to expand over seeds."
			}
			d.errorf(kv.keyRange.Ptr(), "Unsupported matrix key",
				"matrix keys must be arguments of %s blocks, and %q is not one.%s Arguments: %s.", bd.kind, kv.key, hint, listOrNone(valueParams))
			continue
		}
		if !contains(valueParams, p.Name) {
			d.errorf(kv.keyRange.Ptr(), "Invalid matrix key",
				"%q cannot be varied by matrix: only value arguments can (not references or nested blocks).", kv.key)
			continue
		}
		if prev, dup := seen[kv.key]; dup {
			d.errorf(kv.keyRange.Ptr(), "Duplicate matrix key", "The matrix key %q was already given at %s.", kv.key, prev)
			continue
		}
		seen[kv.key] = kv.keyRange
		if attr, ok := content.Attributes[p.Name]; ok {
			d.errorf(attr.NameRange.Ptr(), "Conflicting definitions",
				"%q is set here and by matrix (at %s); remove one of them.", p.Name, kv.keyRange)
			continue
		}
		elems, ok := d.listElems(&stage.Param{Name: what}, what, "a list of values for "+p.Name, kv.value)
		if !ok {
			continue
		}
		if len(elems) == 0 {
			d.errorf(kv.value.Range().Ptr(), "Empty matrix axis", "%s must list at least one value.", what)
			continue
		}
		ax := axis{key: p.Name}
		labels := map[string]bool{}
		good := true
		for i, e := range elems {
			if isNullExpr(e) {
				d.errorf(e.Range().Ptr(), "Invalid value", "%s[%d] is null; every matrix value must be a value of %q.", what, i, p.Name)
				good = false
				continue
			}
			v, ok := d.decodeValue(p, fmt.Sprintf("%s[%d]", what, i), e)
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
		}
		if good {
			axes = append(axes, ax)
		}
	}
	sort.Slice(axes, func(i, j int) bool { return axes[i].key < axes[j].key })
	return axes
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
					bd.broken = true
					continue
				}
				if want != "" && t.kind != want {
					d.errorf(t.rng.Ptr(), "Wrong reference type",
						"The argument %q of %s must refer to a %s block, but %s is a %s block.", rp.param, bd.addr(), want, t.addr(), t.kind)
					bd.broken = true
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
		if v, ok := d.decodeValue(p, "tolerances", a.Expr); ok {
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
	index := map[*blockDecl]int{}
	low := map[*blockDecl]int{}
	onStack := map[*blockDecl]bool{}
	var stack []*blockDecl
	var sccs [][]*blockDecl
	next := 0
	var visit func(b *blockDecl)
	visit = func(b *blockDecl) {
		index[b], low[b] = next, next
		next++
		stack = append(stack, b)
		onStack[b] = true
		for _, rp := range b.refs {
			for _, t := range rp.targets {
				w := t.block
				if w == nil {
					continue
				}
				if _, seen := index[w]; !seen {
					visit(w)
					low[b] = min(low[b], low[w])
				} else if onStack[w] {
					low[b] = min(low[b], index[w])
				}
			}
		}
		if low[b] == index[b] {
			var scc []*blockDecl
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				scc = append(scc, w)
				if w == b {
					break
				}
			}
			sccs = append(sccs, scc)
		}
	}
	for _, b := range d.blocks {
		if _, seen := index[b]; !seen {
			visit(b)
		}
	}
	for _, scc := range sccs {
		if len(scc) == 1 && !refersTo(scc[0], scc[0]) {
			continue
		}
		sort.Slice(scc, func(i, j int) bool { return scc[i].order < scc[j].order })
		members := map[*blockDecl]bool{}
		names := make([]string, len(scc))
		for i, b := range scc {
			members[b] = true
			names[i] = b.addr()
			b.broken = true
		}
		path := cyclePath(scc[0], members)
		var steps []string
		for _, e := range path {
			steps = append(steps, fmt.Sprintf("%s refers to %s (%q at %s)", e.from.addr(), e.t.addr(), e.param, rangeStart(e.t.rng)))
		}
		d.add(&hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Reference cycle",
			Detail: fmt.Sprintf("Blocks in the cycle: %s. %s. A block cannot depend on itself, directly or through other blocks; remove one of these references.",
				strings.Join(names, ", "), strings.Join(steps, ", and ")),
			Subject: path[0].t.rng.Ptr(),
			Context: scc[0].declRange.Ptr(),
		})
	}
}

func refersTo(from, to *blockDecl) bool {
	for _, rp := range from.refs {
		for _, t := range rp.targets {
			if t.block == to {
				return true
			}
		}
	}
	return false
}

type cycleEdge struct {
	from  *blockDecl
	param string
	t     *refTarget
}

// cyclePath finds the shortest path from start back to itself inside the group, taking
// references in the order written, so that the message is the same on every run.
func cyclePath(start *blockDecl, members map[*blockDecl]bool) []cycleEdge {
	prev := map[*blockDecl]cycleEdge{}
	queue := []*blockDecl{start}
	visited := map[*blockDecl]bool{}
	for len(queue) > 0 {
		b := queue[0]
		queue = queue[1:]
		for _, rp := range b.refs {
			for _, t := range rp.targets {
				w := t.block
				if w == nil || !members[w] {
					continue
				}
				if w == start {
					path := []cycleEdge{{b, rp.param, t}}
					for cur := b; cur != start; {
						e := prev[cur]
						path = append([]cycleEdge{e}, path...)
						cur = e.from
					}
					return path
				}
				if !visited[w] {
					visited[w] = true
					prev[w] = cycleEdge{b, rp.param, t}
					queue = append(queue, w)
				}
			}
		}
	}
	panic("spec: cyclePath found no cycle in a strongly connected group (bug)")
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
	for _, rp := range bd.refs {
		for _, t := range rp.targets {
			if t.block == nil {
				bd.broken = true
				continue
			}
			d.expandBlock(t.block)
			if t.block.broken {
				bd.broken = true
			}
		}
	}
	if bd.broken {
		return
	}

	type instance struct {
		label   string
		overlay map[string]any
		over    *Node // the referenced node this instance expands over
	}
	var insts []instance
	if over := bd.def.ExpandOver; over != "" {
		for _, rp := range bd.refs {
			if rp.param != over {
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
		axes := append([]axis(nil), bd.matrix...)
		if bd.seeds != nil {
			ax := axis{key: "seed"}
			for _, s := range bd.seeds {
				ax.values = append(ax.values, s)
			}
			axes = append(axes, ax)
			sort.SliceStable(axes, func(i, j int) bool { return axes[i].key < axes[j].key })
		}
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
			inst := instance{overlay: map[string]any{}}
			parts := make([]string, len(axes))
			for a, ax := range axes {
				v := ax.values[idx[a]]
				inst.overlay[ax.key] = v
				parts[a] = ax.key + "=" + formatValue(v)
			}
			inst.label = strings.Join(parts, ",")
			insts = append(insts, inst)
			// Odometer: the last axis turns fastest, so the first (sorted) key is outermost.
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
			if rp.param == bd.def.ExpandOver {
				perNode++
			} else {
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
	for _, inst := range insts {
		n := &Node{
			Addr:      Addr{Kind: bd.kind, Name: bd.name, Instance: inst.label},
			Params:    stage.Params(deepCopy(bd.params).(map[string]any)),
			DeclRange: bd.declRange,
		}
		for k, v := range inst.overlay {
			n.Params[k] = deepCopy(v)
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

// unwrapTemplate lets a reference be written as "${dataset.cub}" too, in both formats:
// hcl does not look through a template that is a single interpolation.
func unwrapTemplate(e hcl.Expression) hcl.Expression {
	if w, ok := e.(*hclsyntax.TemplateWrapExpr); ok {
		return w.Wrapped
	}
	return e
}
