package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"dmlrun/dag"
	"dmlrun/spec"
	"dmlrun/stage"

	"github.com/hashicorp/hcl/v2"
)

// Decl declares one node as spec produced it: an expanded instance of a stage block and
// the references it makes. FromSpec builds these from a spec.Experiment, with typed
// addresses and source ranges; tests write them by hand with address strings and no ranges.
type Decl struct {
	// Address is the node's typed address. When it is the zero Addr, the address is parsed
	// from Addr, and Kind and Name, when set, must agree with it (hand-written Decls).
	Address spec.Addr
	Addr    string // "train.nir[seed=1]"; ignored when Address is set
	Kind    string // "train": the registered stage; ignored when Address is set
	Name    string // "nir": the block name; ignored when Address is set

	Params    stage.Params // canonical values, defaults filled
	Inputs    []DeclRef    // in the order written
	DeclRange hcl.Range    // the block header in the experiment file; zero for hand-written Decls
}

// DeclRef is one reference of a Decl to another node.
type DeclRef struct {
	Param string // the parameter that wrote it ("dataset", "models", "depends_on")
	// Address is the referenced node's typed address; when zero, Target names the node.
	Address spec.Addr
	Target  string    // the referenced node's address; ignored when Address is set
	Range   hcl.Range // the reference expression; zero for hand-written Decls
}

// Block returns "kind.name", the address of all instances of the block ("" when the
// address does not parse).
func (d Decl) Block() string {
	a, err := declAddr(d)
	if err != nil {
		return ""
	}
	return a.Block()
}

// Node is one vertex of the graph with its content key.
type Node struct {
	Address spec.Addr // typed: stage kind, block name, instance
	Addr    string    // Address.String(): "train.nir[seed=1]"
	Kind    string    // Address.Kind: "train"
	Name    string    // Address.Name: "nir"
	// DeclRange is the block header the node was expanded from; zero when the graph was
	// built from hand-written Decls.
	DeclRange hcl.Range
	Def       *stage.Def
	Params    stage.Params
	Inputs    []Edge
	Key       string // "" when KeyErr is set

	// KeyInputs is what the stage's Def.KeyInputs hook returned (a digest of the external
	// content the node reads, e.g. a dataset folder); "" for stages without the hook.
	KeyInputs string
	// KeyErr is a *KeyError when the key could not be computed: the stage's KeyInputs hook
	// failed, or an input's key is unknown. Plan shows such a node as create with the error
	// as its reason; Apply refuses to run anything while one is in the plan.
	KeyErr error

	order int // position in Graph.Nodes (topological)
	decl  int // position in the declarations
}

// Block returns "kind.name".
func (n *Node) Block() string { return n.Kind + "." + n.Name }

// Edge is one input of a node.
type Edge struct {
	Param string
	From  *Node
	// Range is the reference expression that made the edge; zero for hand-written Decls.
	Range hcl.Range
}

// Graph is an experiment's node DAG with keys computed. Nodes are in a topological order
// that is stable: among nodes whose inputs are ready, declaration order wins.
type Graph struct {
	Nodes  []*Node
	byAddr map[string]*Node
	dag    *dag.Graph[*Node] // nodes in declaration order, an edge per distinct input
}

// Node returns the node at addr, or nil.
func (g *Graph) Node(addr string) *Node { return g.byAddr[addr] }

// At returns the node at a typed address, or nil.
func (g *Graph) At(a spec.Addr) *Node { return g.byAddr[a.String()] }

// BuildOptions tunes Build.
type BuildOptions struct {
	// KeyDebug, when not nil, receives every field fed into every key (DMLRUN_DEBUG_KEYS=1).
	KeyDebug io.Writer
	// Context is passed to the stages' KeyInputs hooks; nil means context.Background().
	Context context.Context
	// SkipKeyInputs does not call the KeyInputs hooks (which may read whole dataset
	// folders): nodes whose stage has one, and the nodes downstream of them, get no key and
	// a KeyError wrapping ErrKeyInputsSkipped. For checking an experiment's structure only
	// (dmlrun validate).
	SkipKeyInputs bool
	// KeyInputs, when set, answers in place of every stage's KeyInputs hook (tests that pin
	// the keys of experiment files whose data is not on this machine).
	KeyInputs func(kind string, p stage.Params) (string, error)
}

// ErrKeyInputsSkipped is the cause of the KeyErrors of a graph built with SkipKeyInputs.
var ErrKeyInputsSkipped = errors.New("external content not read (the graph was built to check structure only)")

// KeyError says a node's key is unknown: its stage's KeyInputs hook failed (Input is ""),
// or an upstream node's did (Input names that node). Err is the hook's error.
type KeyError struct {
	Addr  string
	Input string
	Err   error
}

func (e *KeyError) Error() string {
	if e.Input != "" {
		return fmt.Sprintf("%s: key unknown: input %s cannot be keyed: %v", e.Addr, e.Input, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Addr, e.Err)
}
func (e *KeyError) Unwrap() error { return e.Err }

// KeyErrors joins the KeyErrors of the given nodes (all nodes when nodes is nil) whose own
// hook failed, one per cause; nil when every key is known.
func (g *Graph) KeyErrors(nodes []*Node) error {
	if nodes == nil {
		nodes = g.Nodes
	}
	var errs []error
	for _, n := range nodes {
		var ke *KeyError
		if errors.As(n.KeyErr, &ke) && ke.Input == "" {
			errs = append(errs, ke)
		}
	}
	if len(errs) == 0 {
		for _, n := range nodes { // only downstream nodes selected: report those
			if n.KeyErr != nil {
				errs = append(errs, n.KeyErr)
			}
		}
	}
	return errors.Join(errs...)
}

// Build makes the graph in named steps: add nodes (each kind must be a stage of stages,
// which gives the node its Def; each address unique), connect references (each target must exist), order them
// topologically (reporting a cycle), then compute keys in that order, calling each stage's
// KeyInputs hook. It reports every problem of a step it finds, joined, each a *GraphError
// (with source ranges when the Decls came from FromSpec; Diagnostics turns them into hcl
// diagnostics). For an experiment spec accepted, none of these can fail: spec reports
// unknown block types, undeclared references and cycles at their source first, and
// pipeline adds no check of its own beyond what it needs to build the graph.
//
// A failing hook is not an error of Build: the node (and every node downstream) gets a
// KeyErr instead, so that a plan can still be shown; only a cancelled Context makes Build
// fail there.
func Build(stages *stage.Registry, decls []Decl, opts BuildOptions) (*Graph, error) {
	if stages == nil {
		panic("pipeline.Build: nil stage registry (build one with stage.NewRegistry)")
	}
	g, err := addNodes(stages, decls)
	if err != nil {
		return nil, err
	}
	if err := g.connect(decls); err != nil {
		return nil, err
	}
	if err := g.sortTopo(); err != nil {
		return nil, err
	}
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	if err := g.computeKeys(ctx, opts); err != nil {
		return nil, err
	}
	return g, nil
}

// declAddr returns a Decl's typed address: Address, or for a hand-written Decl its Addr
// parsed, checked against Kind and Name.
func declAddr(d Decl) (spec.Addr, error) {
	if d.Address != (spec.Addr{}) {
		return d.Address, nil
	}
	a, err := spec.ParseAddr(d.Addr)
	if err != nil {
		return a, err
	}
	if (d.Kind != "" && d.Kind != a.Kind) || (d.Name != "" && d.Name != a.Name) {
		return a, fmt.Errorf("Kind %q and Name %q do not match the address %s; leave them empty or make them agree", d.Kind, d.Name, d.Addr)
	}
	return a, nil
}

func addNodes(stages *stage.Registry, decls []Decl) (*Graph, error) {
	g := &Graph{byAddr: map[string]*Node{}}
	g.dag = dag.New(func(n *Node) string { return n.Addr })
	var errs []error
	for i, d := range decls {
		a, err := declAddr(d)
		if err != nil {
			errs = append(errs, &GraphError{Addr: d.Addr, Summary: "Invalid node address", Detail: err.Error() + ".", Subject: d.DeclRange})
			continue
		}
		addr := a.String()
		def, ok := stages.Lookup(a.Kind)
		if !ok {
			errs = append(errs, &GraphError{Addr: addr, Summary: "Unknown block type", Subject: d.DeclRange,
				Detail: fmt.Sprintf("no stage is registered for block type %q (registered: %s)", a.Kind, strings.Join(stages.Kinds(), ", "))})
			continue
		}
		if prev, dup := g.byAddr[addr]; dup {
			detail := "declared twice"
			if prev.DeclRange != (hcl.Range{}) {
				detail += " (first at " + prev.DeclRange.String() + ")"
			}
			errs = append(errs, &GraphError{Addr: addr, Summary: "Duplicate node", Detail: detail, Subject: d.DeclRange})
			continue
		}
		n := &Node{Address: a, Addr: addr, Kind: a.Kind, Name: a.Name, DeclRange: d.DeclRange, Def: def, Params: d.Params, decl: i}
		g.Nodes = append(g.Nodes, n)
		g.byAddr[addr] = n
		g.dag.Add(n)
	}
	return g, errors.Join(errs...)
}

// connect turns each reference into an edge; addNodes made one node per Decl, in order.
func (g *Graph) connect(decls []Decl) error {
	var errs []error
	for i, d := range decls {
		n := g.Nodes[i]
		for _, r := range d.Inputs {
			target := r.Target
			if r.Address != (spec.Addr{}) {
				target = r.Address.String()
			}
			from, ok := g.byAddr[target]
			if !ok {
				errs = append(errs, &GraphError{Addr: n.Addr, Summary: "Reference to unknown node", Subject: r.Range, Context: n.DeclRange,
					Detail: fmt.Sprintf("%s refers to unknown node %s; declare it or remove the reference", r.Param, target)})
				continue
			}
			n.Inputs = append(n.Inputs, Edge{Param: r.Param, From: from, Range: r.Range})
			g.dag.Connect(n, from)
		}
	}
	return errors.Join(errs...)
}

// sortTopo orders g.Nodes: inputs first, ties in declaration order (dag.Graph.Sort). A
// cycle is reported once, from its earliest declared node along the shortest way round, so
// that the message is stable.
func (g *Graph) sortTopo() error {
	order, err := g.dag.Sort()
	var ce *dag.CycleError[*Node]
	if errors.As(err, &ce) {
		return cycleError(ce)
	}
	if err != nil {
		return err
	}
	g.Nodes = order
	for i, n := range order {
		n.order = i
	}
	return nil
}

// cycleError renders a cycle the way data flows, "a -> b -> c -> a" (each node an input of
// the next), naming the reference that makes each step and where it was written.
func cycleError(ce *dag.CycleError[*Node]) *GraphError {
	path := ce.Cycle.Path // each node depends on the next: reverse it to follow the data
	names := make([]string, len(path))
	for i := range path {
		names[i] = path[len(path)-1-i].Addr
	}
	var steps []string
	var subject, context hcl.Range
	for i := len(path) - 1; i > 0; i-- {
		user, input := path[i-1], path[i]
		for _, e := range user.Inputs {
			if e.From != input {
				continue
			}
			step := fmt.Sprintf("%s reads %s through %q", user.Addr, input.Addr, e.Param)
			if e.Range != (hcl.Range{}) {
				step += " at " + e.Range.String()
			}
			steps = append(steps, step)
			if len(steps) == 1 {
				subject, context = e.Range, user.DeclRange
			}
			break
		}
	}
	detail := fmt.Sprintf("dependency cycle: %s: %s; a node cannot depend on itself, directly or through others, so remove one of these references",
		strings.Join(names, " -> "), strings.Join(steps, ", "))
	if ce.Count > 1 {
		detail += fmt.Sprintf(" (and %d more cycle(s))", ce.Count-1)
	}
	return &GraphError{Summary: "Dependency cycle", Detail: detail, Subject: subject, Context: context}
}

// GraphError is a problem that keeps Build from making a graph: a node address that does
// not parse, a block type without a stage, an address declared twice, a reference to no
// node, a cycle, parameters that cannot be hashed. Subject is where it was written (the
// block header, or the reference) and Context the enclosing block; both are zero for
// hand-written Decls.
type GraphError struct {
	Addr    string // the node it is about; "" for a cycle (Detail names every node)
	Summary string // a few words: "Dependency cycle"
	Detail  string // what is wrong and how to fix it
	Subject hcl.Range
	Context hcl.Range
}

// Error reads "exp.hcl:12,3-17: teval.e: models refers to unknown node ...", without the
// range when there is none.
func (e *GraphError) Error() string {
	msg := e.Detail
	if e.Addr != "" {
		msg = e.Addr + ": " + msg
	}
	if e.Subject != (hcl.Range{}) {
		msg = e.Subject.String() + ": " + msg
	}
	return msg
}

// Diagnostic returns the error as an hcl diagnostic, for spec's renderer (source snippet
// and --json); Subject and Context are nil when the range is unknown.
func (e *GraphError) Diagnostic() *hcl.Diagnostic {
	d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: e.Summary, Detail: e.Detail}
	if e.Addr != "" {
		d.Detail = e.Addr + ": " + e.Detail
	}
	if !strings.HasSuffix(d.Detail, ".") {
		d.Detail += "."
	}
	if e.Subject != (hcl.Range{}) {
		d.Subject = e.Subject.Ptr()
	}
	if e.Context != (hcl.Range{}) {
		d.Context = e.Context.Ptr()
	}
	return d
}

// Diagnostics returns the diagnostics of every *GraphError in err (as Build returns them,
// joined, possibly wrapped); nil when there is none.
func Diagnostics(err error) hcl.Diagnostics {
	var out hcl.Diagnostics
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *GraphError:
			out = append(out, e.Diagnostic())
		case interface{ Unwrap() []error }:
			for _, x := range e.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	return out
}

func (g *Graph) computeKeys(ctx context.Context, opts BuildOptions) error {
	debug := opts.KeyDebug
	var errs []error
	for _, n := range g.Nodes {
		if n.KeyErr = upstreamKeyErr(n); n.KeyErr != nil {
			if debug != nil {
				fmt.Fprintf(debug, "key %s unknown: %v\n", n.Addr, n.KeyErr)
			}
			continue
		}
		// Parameters marked NoKey (where content lives, not what it is) stay out of the key;
		// the manifest still records them.
		params, omitted := keyParams(n.Def.Params, map[string]any(n.Params))
		km := keyMaterial{Stage: n.Kind, Version: n.Def.Version, Params: params, Omitted: omitted}
		if n.Def.KeyInputs != nil {
			var content string
			var err error
			switch {
			case opts.SkipKeyInputs:
				err = ErrKeyInputsSkipped
			case opts.KeyInputs != nil:
				content, err = opts.KeyInputs(n.Kind, n.Params)
			default:
				content, err = n.Def.KeyInputs(ctx, n.Params)
			}
			if err != nil {
				if cerr := ctx.Err(); cerr != nil {
					return fmt.Errorf("%s: %w", n.Addr, cerr)
				}
				n.KeyErr = &KeyError{Addr: n.Addr, Err: err}
				if debug != nil {
					fmt.Fprintf(debug, "key %s unknown: %v\n", n.Addr, n.KeyErr)
				}
				continue
			}
			n.KeyInputs = content
			km.KeyInputs = content // "" adds nothing: see keyMaterial
		}
		for _, e := range n.Inputs {
			ki := keyInput{Param: e.Param, Key: e.From.Key}
			if n.Def.InputAddressesInKey {
				ki.Addr = e.From.Addr
			}
			km.Inputs = append(km.Inputs, ki)
		}
		// The one hashing function, shared with ManifestKey (manifestkey.go).
		key, err := km.hash(n.Addr, debug)
		if err != nil {
			errs = append(errs, &GraphError{Addr: n.Addr, Summary: "Parameters cannot be hashed", Detail: err.Error(), Subject: n.DeclRange})
			continue
		}
		n.Key = key
	}
	return errors.Join(errs...)
}

// upstreamKeyErr returns a KeyError when an input's key is unknown, naming the node whose
// own hook failed.
func upstreamKeyErr(n *Node) error {
	for _, e := range n.Inputs {
		var ke *KeyError
		if errors.As(e.From.KeyErr, &ke) {
			cause := ke.Input
			if cause == "" {
				cause = ke.Addr
			}
			return &KeyError{Addr: n.Addr, Input: cause, Err: ke.Err}
		}
	}
	return nil
}

// Select returns the nodes needed for the given targets, in topological order: each
// target node and all its ancestors. A target is a node address ("train.nir[seed=0]") or a
// block address ("train.nir", all its instances). No targets selects every node.
func (g *Graph) Select(targets []string) ([]*Node, error) {
	if len(targets) == 0 {
		return g.Nodes, nil
	}
	var roots []*Node
	var errs []error
	for _, t := range targets {
		found := false
		for _, n := range g.Nodes {
			if n.Addr == t || n.Block() == t {
				roots = append(roots, n)
				found = true
			}
		}
		if !found {
			errs = append(errs, fmt.Errorf("target %s: no such node or block%s", t, g.suggest(t)))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	want := map[*Node]bool{}
	for _, n := range roots {
		want[n] = true
	}
	for _, n := range g.dag.Ancestors(roots...) {
		want[n] = true
	}
	var out []*Node
	for _, n := range g.Nodes {
		if want[n] {
			out = append(out, n)
		}
	}
	return out, nil
}

func (g *Graph) suggest(t string) string {
	var names []string
	seen := map[string]bool{}
	for _, n := range g.Nodes {
		if !seen[n.Block()] {
			seen[n.Block()] = true
			names = append(names, n.Block())
		}
	}
	if len(names) == 0 {
		return ""
	}
	return " (blocks: " + strings.Join(names, ", ") + ")"
}

// Lineage is what a node was made from: for each stage kind asked for, the nearest
// ancestors of that kind, in the graph's (topological) order.
type Lineage map[string][]*Node

// Only returns the one ancestor of a kind, or nil when there is none or more than one.
func (l Lineage) Only(kind string) *Node {
	if ns := l[kind]; len(ns) == 1 {
		return ns[0]
	}
	return nil
}

// kinds returns the stage kinds of the graph's nodes, in the order they first appear.
func (g *Graph) kinds() []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range g.Nodes {
		if !seen[n.Kind] {
			seen[n.Kind] = true
			out = append(out, n.Kind)
		}
	}
	return out
}

// Lineage returns the lineage of the node at addr (see LineageOf); an unknown address is an
// error that lists the blocks.
func (g *Graph) Lineage(addr string, kinds ...string) (Lineage, error) {
	n := g.Node(addr)
	if n == nil {
		return nil, fmt.Errorf("no node %s in the experiment%s", addr, g.suggest(addr))
	}
	return g.LineageOf(n, kinds...), nil
}

// LineageOf follows n's inputs and returns, for each kind, the ancestors of that kind that
// some path reaches without passing another node of that kind: for an evaluate node and
// the kinds "embed" and "train", the embedding it scored and the train node that embedding
// came from (not train nodes further up, such as a teacher). A kind with no such ancestor
// is absent from the answer; n itself never is part of it. n must be a node of g.
func (g *Graph) LineageOf(n *Node, kinds ...string) Lineage {
	out := Lineage{}
	for _, k := range kinds {
		ns := g.dag.FirstAncestors(n, func(m *Node) bool { return m.Kind == k })
		if len(ns) == 0 {
			continue
		}
		slices.SortFunc(ns, func(a, b *Node) int { return a.order - b.order })
		out[k] = ns
	}
	return out
}
