package dag

import (
	"container/heap"
	"fmt"
	"slices"
	"strings"
)

// Graph is a directed graph whose edges run from a node to its inputs. Nodes keep the order
// in which they were added, and each node's inputs the order in which they were connected;
// every answer below is ordered by these, never by map iteration.
//
// The zero value is not usable; call New.
type Graph[N comparable] struct {
	nodes  []N
	index  map[N]int
	inputs [][]int // per node: distinct inputs, in the order connected
	users  [][]int // per node: distinct dependents, in the order connected
	name   func(N) string
}

// New returns an empty graph. name renders a node in CycleError messages; nil means
// fmt.Sprint.
func New[N comparable](name func(N) string) *Graph[N] {
	if name == nil {
		name = func(n N) string { return fmt.Sprint(n) }
	}
	return &Graph[N]{index: map[N]int{}, name: name}
}

// Add adds a node after those already added and reports whether it was new; adding a node
// twice changes nothing (the caller decides whether that is an error).
func (g *Graph[N]) Add(n N) bool {
	if _, ok := g.index[n]; ok {
		return false
	}
	g.index[n] = len(g.nodes)
	g.nodes = append(g.nodes, n)
	g.inputs = append(g.inputs, nil)
	g.users = append(g.users, nil)
	return true
}

// Connect records that n depends on input. Both must have been added (else it panics: a
// bug in the caller). Connecting the same pair again changes nothing; n may be its own
// input, which is a cycle of one node.
func (g *Graph[N]) Connect(n, input N) {
	i, j := g.mustIndex(n, "Connect"), g.mustIndex(input, "Connect")
	for _, k := range g.inputs[i] {
		if k == j {
			return
		}
	}
	g.inputs[i] = append(g.inputs[i], j)
	g.users[j] = append(g.users[j], i)
}

func (g *Graph[N]) mustIndex(n N, op string) int {
	i, ok := g.index[n]
	if !ok {
		panic(fmt.Sprintf("dag: %s: node %s was never added (a bug in the caller)", op, g.name(n)))
	}
	return i
}

// Len returns the number of nodes.
func (g *Graph[N]) Len() int { return len(g.nodes) }

// Has reports whether n was added.
func (g *Graph[N]) Has(n N) bool { _, ok := g.index[n]; return ok }

// Nodes returns the nodes in the order added.
func (g *Graph[N]) Nodes() []N { return append([]N(nil), g.nodes...) }

// Inputs returns the nodes n depends on directly, in the order connected.
func (g *Graph[N]) Inputs(n N) []N { return g.pick(g.inputs[g.mustIndex(n, "Inputs")]) }

// Dependents returns the nodes that depend on n directly, in the order connected.
func (g *Graph[N]) Dependents(n N) []N { return g.pick(g.users[g.mustIndex(n, "Dependents")]) }

func (g *Graph[N]) pick(idx []int) []N {
	out := make([]N, len(idx))
	for i, k := range idx {
		out[i] = g.nodes[k]
	}
	return out
}

// Sort returns every node in a topological order: each node after all its inputs. The
// order is stable: of the nodes whose inputs are all placed, the one added first comes
// next, so a graph without edges keeps the order of Add. When the graph has a cycle, Sort
// returns a *CycleError[N] naming the first one (see Cycles) and no order.
func (g *Graph[N]) Sort() ([]N, error) {
	pending := make([]int, len(g.nodes))
	ready := &minHeap{}
	for i := range g.nodes {
		pending[i] = len(g.inputs[i])
		if pending[i] == 0 {
			heap.Push(ready, i)
		}
	}
	out := make([]N, 0, len(g.nodes))
	for ready.Len() > 0 {
		i := heap.Pop(ready).(int)
		out = append(out, g.nodes[i])
		for _, u := range g.users[i] {
			if pending[u]--; pending[u] == 0 {
				heap.Push(ready, u)
			}
		}
	}
	if len(out) != len(g.nodes) {
		cycles := g.Cycles()
		if len(cycles) == 0 {
			panic("dag: Sort left nodes unplaced but found no cycle (a bug in package dag)")
		}
		return nil, &CycleError[N]{Cycle: cycles[0], Count: len(cycles), name: g.name}
	}
	return out, nil
}

// minHeap holds node indices; the smallest (the node added first) is popped first.
type minHeap []int

func (h minHeap) Len() int           { return len(h) }
func (h minHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h minHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *minHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *minHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Cycle is one group of nodes that depend on each other (a strongly connected component
// with more than one node, or one node that is its own input).
type Cycle[N comparable] struct {
	// Members are every node of the group, in the order added.
	Members []N
	// Path is the shortest way from Members[0] back to itself: each node depends on the next
	// one (the next is one of its inputs), and the last node is Members[0] again. Among paths
	// of equal length, inputs are taken in the order connected. A node that is its own input
	// gives [n, n].
	Path []N
}

// Cycles returns every cycle of the graph once, ordered by their first members; nil when the
// graph is acyclic.
func (g *Graph[N]) Cycles() []Cycle[N] {
	var out []Cycle[N]
	for _, scc := range g.components() {
		if len(scc) == 1 && !g.dependsOn(scc[0], scc[0]) {
			continue
		}
		members := make(map[int]bool, len(scc))
		for _, i := range scc {
			members[i] = true
		}
		out = append(out, Cycle[N]{Members: g.pick(scc), Path: g.pick(g.shortestCycle(scc[0], members))})
	}
	return out
}

func (g *Graph[N]) dependsOn(i, j int) bool {
	for _, k := range g.inputs[i] {
		if k == j {
			return true
		}
	}
	return false
}

// components returns the strongly connected components (Tarjan's algorithm, iterative so
// that long chains cannot exhaust the stack), each sorted, ordered by their first node.
func (g *Graph[N]) components() [][]int {
	n := len(g.nodes)
	index, low := make([]int, n), make([]int, n)
	for i := range index {
		index[i] = -1
	}
	onStack := make([]bool, n)
	var stack []int
	var comps [][]int
	next := 0
	type frame struct{ v, edge int }
	for root := range n {
		if index[root] >= 0 {
			continue
		}
		call := []frame{{root, 0}}
		index[root], low[root] = next, next
		next++
		stack = append(stack, root)
		onStack[root] = true
		for len(call) > 0 {
			f := &call[len(call)-1]
			if f.edge < len(g.inputs[f.v]) {
				w := g.inputs[f.v][f.edge]
				f.edge++
				switch {
				case index[w] < 0:
					index[w], low[w] = next, next
					next++
					stack = append(stack, w)
					onStack[w] = true
					call = append(call, frame{w, 0})
				case onStack[w]:
					low[f.v] = min(low[f.v], index[w])
				}
				continue
			}
			v := f.v
			call = call[:len(call)-1]
			if len(call) > 0 {
				p := call[len(call)-1].v
				low[p] = min(low[p], low[v])
			}
			if low[v] == index[v] {
				var comp []int
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					comp = append(comp, w)
					if w == v {
						break
					}
				}
				slices.Sort(comp)
				comps = append(comps, comp)
			}
		}
	}
	// Order by first member: the same graph gives the same list whatever Tarjan's visiting
	// order was.
	slices.SortFunc(comps, func(a, b []int) int { return a[0] - b[0] })
	return comps
}

// shortestCycle walks breadth-first from start along inputs inside members until it comes
// back to start, and returns that path (start first and last).
func (g *Graph[N]) shortestCycle(start int, members map[int]bool) []int {
	prev := map[int]int{}
	queue := []int{start}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, w := range g.inputs[v] {
			if !members[w] {
				continue
			}
			if w == start {
				path := []int{start}
				for c := v; c != start; c = prev[c] {
					path = append(path, c)
				}
				// path runs from v back to start; turn it to run from start along the edges.
				for i, j := 1, len(path)-1; i < j; i, j = i+1, j-1 {
					path[i], path[j] = path[j], path[i]
				}
				return append(path, start)
			}
			if _, seen := prev[w]; !seen {
				prev[w] = v
				queue = append(queue, w)
			}
		}
	}
	panic("dag: no path back to the start inside a strongly connected group (a bug in package dag)")
}

// CycleError is Sort's error for a graph with a cycle.
type CycleError[N comparable] struct {
	Cycle Cycle[N] // the first cycle (see Cycles)
	Count int      // how many cycles the graph has in all
	name  func(N) string
}

// Error reads "dependency cycle: a -> b -> a", where each node depends on the next.
func (e *CycleError[N]) Error() string {
	names := make([]string, len(e.Cycle.Path))
	for i, n := range e.Cycle.Path {
		names[i] = e.name(n)
	}
	msg := "dependency cycle: " + strings.Join(names, " -> ") + " (each depends on the next)"
	if e.Count > 1 {
		msg += fmt.Sprintf(", and %d more cycle(s)", e.Count-1)
	}
	return msg
}

// Ancestors returns every node that one of roots depends on, directly or through other
// nodes, in the order added. A root is in the answer only when it is an ancestor itself (of
// another root, or of itself on a cycle). Unknown roots panic (a bug in the caller).
func (g *Graph[N]) Ancestors(roots ...N) []N {
	seen := make([]bool, len(g.nodes))
	var stack []int
	for _, r := range roots {
		stack = append(stack, g.inputs[g.mustIndex(r, "Ancestors")]...)
	}
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[v] {
			continue
		}
		seen[v] = true
		stack = append(stack, g.inputs[v]...)
	}
	var out []N
	for i, s := range seen {
		if s {
			out = append(out, g.nodes[i])
		}
	}
	return out
}

// FirstAncestors returns the ancestors a of n for which match(a) holds and some path from n
// to a passes through no other matching node: the walk follows inputs and stops at each
// match. For an evaluate node and "is a train node" that is the train node its embedding
// came from, not the train nodes further up. The answer is in the order added; n itself is
// never part of it.
func (g *Graph[N]) FirstAncestors(n N, match func(N) bool) []N {
	start := g.mustIndex(n, "FirstAncestors")
	seen := make([]bool, len(g.nodes))
	seen[start] = true
	found := make([]bool, len(g.nodes))
	queue := []int{start}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, w := range g.inputs[v] {
			if seen[w] {
				continue
			}
			seen[w] = true
			if match(g.nodes[w]) {
				found[w] = true
				continue
			}
			queue = append(queue, w)
		}
	}
	var out []N
	for i, f := range found {
		if f {
			out = append(out, g.nodes[i])
		}
	}
	return out
}

// Tracker follows which nodes of a set may start: a node is ready when every input it has
// inside the set is done. Inputs outside the set count as done already (the caller has
// them). Every node of the set is handed out exactly once, by Ready or by a Done call, and
// always in the order of the set as given to Graph.Tracker (the caller's priority).
type Tracker[N comparable] struct {
	g       *Graph[N]
	pos     map[int]int // graph index -> position in the set
	nodes   []int       // graph index per position
	pending []int       // per position: inputs in the set not done yet
	done    []bool      // per position
	initial []N
	left    int
}

// Tracker starts tracking nodes, a set of this graph's nodes in priority order. A node
// given twice, or not in the graph, panics (a bug in the caller). The set should be
// acyclic: nodes on a cycle never become ready.
func (g *Graph[N]) Tracker(nodes []N) *Tracker[N] {
	t := &Tracker[N]{g: g, pos: make(map[int]int, len(nodes)), nodes: make([]int, len(nodes)),
		pending: make([]int, len(nodes)), done: make([]bool, len(nodes)), left: len(nodes)}
	for p, n := range nodes {
		i := g.mustIndex(n, "Tracker")
		if _, dup := t.pos[i]; dup {
			panic(fmt.Sprintf("dag: Tracker: node %s given twice (a bug in the caller)", g.name(n)))
		}
		t.pos[i], t.nodes[p] = p, i
	}
	for p, i := range t.nodes {
		for _, in := range g.inputs[i] {
			if _, ok := t.pos[in]; ok {
				t.pending[p]++
			}
		}
		if t.pending[p] == 0 {
			t.initial = append(t.initial, nodes[p])
		}
	}
	return t
}

// Ready returns the nodes that were ready from the start (no inputs inside the set), in
// priority order.
func (t *Tracker[N]) Ready() []N { return append([]N(nil), t.initial...) }

// Done marks n finished and returns the nodes that became ready because of it, in priority
// order. Marking a node that is not in the set, not ready yet, or already done panics (a
// bug in the caller).
func (t *Tracker[N]) Done(n N) []N {
	p, ok := t.pos[t.g.mustIndex(n, "Done")]
	switch {
	case !ok:
		panic(fmt.Sprintf("dag: Done(%s): not a tracked node (a bug in the caller)", t.g.name(n)))
	case t.done[p]:
		panic(fmt.Sprintf("dag: Done(%s) called twice (a bug in the caller)", t.g.name(n)))
	case t.pending[p] > 0:
		panic(fmt.Sprintf("dag: Done(%s) before its inputs were done (a bug in the caller)", t.g.name(n)))
	}
	t.done[p] = true
	t.left--
	var became []int
	for _, u := range t.g.users[t.nodes[p]] {
		q, ok := t.pos[u]
		if !ok {
			continue
		}
		if t.pending[q]--; t.pending[q] == 0 {
			became = append(became, q)
		}
	}
	slices.Sort(became)
	out := make([]N, len(became))
	for i, q := range became {
		out[i] = t.g.nodes[t.nodes[q]]
	}
	return out
}

// Left returns how many nodes of the set are not done.
func (t *Tracker[N]) Left() int { return t.left }
