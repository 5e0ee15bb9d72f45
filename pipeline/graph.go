package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"dmlrun/stage"
)

// Decl declares one node as spec produced it: an expanded instance of a stage block and
// the references it makes. FromSpec builds these from a spec.Experiment; tests write them
// by hand.
type Decl struct {
	Addr   string       // "train.nir[seed=1]"
	Kind   string       // "train": the registered stage
	Name   string       // "nir": the block name
	Params stage.Params // canonical values, defaults filled
	Inputs []DeclRef    // in the order written
}

// DeclRef is one reference of a Decl to another node.
type DeclRef struct {
	Param  string // the parameter that wrote it ("dataset", "models", "depends_on")
	Target string // the referenced node's address
}

// Block returns "kind.name", the address of all instances of the block.
func (d Decl) Block() string { return d.Kind + "." + d.Name }

// Node is one vertex of the graph with its content key.
type Node struct {
	Addr   string
	Kind   string
	Name   string
	Def    *stage.Def
	Params stage.Params
	Inputs []Edge
	Key    string // "" when KeyErr is set

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
}

// Graph is an experiment's node DAG with keys computed. Nodes are in a topological order
// that is stable: among nodes whose inputs are ready, declaration order wins.
type Graph struct {
	Nodes  []*Node
	byAddr map[string]*Node
}

// Node returns the node at addr, or nil.
func (g *Graph) Node(addr string) *Node { return g.byAddr[addr] }

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

// Build makes the graph in named steps: add nodes (each kind must be a registered stage,
// each address unique), connect references (each target must exist), order them
// topologically (reporting any cycle), then compute keys in that order, calling each
// stage's KeyInputs hook. It reports every problem it finds, joined. A failing hook is not
// an error of Build: the node (and every node downstream) gets a KeyErr instead, so that a
// plan can still be shown; only a cancelled Context makes Build fail there.
func Build(decls []Decl, opts BuildOptions) (*Graph, error) {
	g, err := addNodes(decls)
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

func addNodes(decls []Decl) (*Graph, error) {
	g := &Graph{byAddr: map[string]*Node{}}
	var errs []error
	for i, d := range decls {
		def, ok := stage.Lookup(d.Kind)
		if !ok {
			errs = append(errs, fmt.Errorf("%s: no stage is registered for block type %q (registered: %s)",
				d.Addr, d.Kind, strings.Join(stage.Kinds(), ", ")))
			continue
		}
		if _, dup := g.byAddr[d.Addr]; dup {
			errs = append(errs, fmt.Errorf("%s: declared twice", d.Addr))
			continue
		}
		n := &Node{Addr: d.Addr, Kind: d.Kind, Name: d.Name, Def: def, Params: d.Params, decl: i}
		g.Nodes = append(g.Nodes, n)
		g.byAddr[d.Addr] = n
	}
	return g, errors.Join(errs...)
}

func (g *Graph) connect(decls []Decl) error {
	var errs []error
	for _, d := range decls {
		n := g.byAddr[d.Addr]
		for _, r := range d.Inputs {
			from, ok := g.byAddr[r.Target]
			if !ok {
				errs = append(errs, fmt.Errorf("%s: %s refers to unknown node %s", d.Addr, r.Param, r.Target))
				continue
			}
			n.Inputs = append(n.Inputs, Edge{Param: r.Param, From: from})
		}
	}
	return errors.Join(errs...)
}

// sortTopo orders g.Nodes (Kahn's algorithm, ready nodes by declaration order). Nodes left
// over lie on or behind a cycle; the first cycle found from the earliest such node is
// reported with node names, so the message is stable.
func (g *Graph) sortTopo() error {
	pending := make(map[*Node]int, len(g.Nodes))
	dependents := make(map[*Node][]*Node)
	for _, n := range g.Nodes {
		pending[n] = len(n.Inputs)
		for _, e := range n.Inputs {
			dependents[e.From] = append(dependents[e.From], n)
		}
	}
	var ready, out []*Node
	for _, n := range g.Nodes {
		if pending[n] == 0 {
			ready = append(ready, n)
		}
	}
	for len(ready) > 0 {
		sort.SliceStable(ready, func(i, j int) bool { return ready[i].decl < ready[j].decl })
		n := ready[0]
		ready = ready[1:]
		out = append(out, n)
		for _, d := range dependents[n] {
			pending[d]--
			if pending[d] == 0 {
				ready = append(ready, d)
			}
		}
	}
	if len(out) != len(g.Nodes) {
		return fmt.Errorf("dependency cycle: %s", strings.Join(g.findCycle(pending), " -> "))
	}
	g.Nodes = out
	for i, n := range out {
		n.order = i
	}
	return nil
}

func (g *Graph) findCycle(pending map[*Node]int) []string {
	var start *Node
	for _, n := range g.Nodes {
		if pending[n] > 0 && (start == nil || n.decl < start.decl) {
			start = n
		}
	}
	// Walk backwards along unfinished inputs until a node repeats.
	seen := map[*Node]int{}
	var path []*Node
	for n := start; n != nil; {
		if i, ok := seen[n]; ok {
			// path runs against the edges; print it along them, from the earliest node.
			cyc := path[i:]
			names := []string{cyc[0].Addr}
			for j := len(cyc) - 1; j >= 1; j-- {
				names = append(names, cyc[j].Addr)
			}
			return append(names, names[0])
		}
		seen[n] = len(path)
		path = append(path, n)
		var next *Node
		for _, e := range n.Inputs {
			if pending[e.From] > 0 && (next == nil || e.From.decl < next.decl) {
				next = e.From
			}
		}
		n = next
	}
	return []string{start.Addr} // not reached for a real cycle
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
		km := keyMaterial{Stage: n.Kind, Version: n.Def.Version, Params: map[string]any(n.Params)}
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
			km.Inputs = append(km.Inputs, keyInput{Param: e.Param, Key: e.From.Key})
		}
		// The one hashing function, shared with ManifestKey (manifestkey.go).
		key, err := km.hash(n.Addr, debug)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.Addr, err))
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
	want := map[*Node]bool{}
	var visit func(n *Node)
	visit = func(n *Node) {
		if want[n] {
			return
		}
		want[n] = true
		for _, e := range n.Inputs {
			visit(e.From)
		}
	}
	var errs []error
	for _, t := range targets {
		found := false
		for _, n := range g.Nodes {
			if n.Addr == t || n.Block() == t {
				visit(n)
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
