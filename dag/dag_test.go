package dag

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// build makes a graph of the nodes in order; edges are "n<in1,in2" (n depends on in1 and
// in2, connected in that order).
func build(nodes string, edges ...string) *Graph[string] {
	g := New[string](nil)
	for _, n := range strings.Fields(nodes) {
		g.Add(n)
	}
	for _, e := range edges {
		n, ins, _ := strings.Cut(e, "<")
		for _, in := range strings.Split(ins, ",") {
			g.Connect(n, in)
		}
	}
	return g
}

func TestSort(t *testing.T) {
	cases := []struct {
		name  string
		nodes string
		edges []string
		want  string
	}{
		{"empty", "", nil, ""},
		{"no edges keep the order of Add", "c a b", nil, "c a b"},
		{"chain declared backwards", "c b a", []string{"c<b", "b<a"}, "a b c"},
		{"diamond", "top l r bottom", []string{"top<l,r", "l<bottom", "r<bottom"}, "bottom l r top"},
		// x waits for y; when y is placed, x (added before z) comes before z.
		{"ties in declaration order", "x y z", []string{"x<y"}, "y x z"},
		{"ready later, added earlier", "a b c d", []string{"a<d", "b<d"}, "c d a b"},
		{"duplicate edges count once", "a b", []string{"a<b", "a<b,b"}, "b a"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := build(tc.nodes, tc.edges...).Sort()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("Sort = %v, want %s", got, tc.want)
			}
		})
	}
}

// Cycles of length 1..3, with nodes before, behind and beside them; the report starts at the
// earliest member and follows inputs along the shortest way back.
func TestSortReportsOneCycle(t *testing.T) {
	cases := []struct {
		name  string
		nodes string
		edges []string
		want  string
	}{
		{"self", "a", []string{"a<a"}, "dependency cycle: a -> a (each depends on the next)"},
		{"two", "a b", []string{"a<b", "b<a"}, "dependency cycle: a -> b -> a (each depends on the next)"},
		{"three", "a b c", []string{"a<c", "b<a", "c<b"}, "dependency cycle: a -> c -> b -> a (each depends on the next)"},
		{"three declared in another order", "c b a", []string{"a<c", "b<a", "c<b"}, "dependency cycle: c -> b -> a -> c (each depends on the next)"},
		{"behind and before a cycle", "src tail x y", []string{"tail<y", "x<y,src", "y<x"}, "dependency cycle: x -> y -> x (each depends on the next)"},
		{"shortest way back", "a b c d", []string{"a<b", "b<c,a", "c<d", "d<a"}, "dependency cycle: a -> b -> a (each depends on the next)"},
		{"inputs in the order connected", "a b c", []string{"a<c,b", "b<a", "c<a"}, "dependency cycle: a -> c -> a (each depends on the next)"},
		{"two cycles", "p q a b", []string{"a<b", "b<a", "p<q", "q<p"}, "dependency cycle: p -> q -> p (each depends on the next), and 1 more cycle(s)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			order, err := build(tc.nodes, tc.edges...).Sort()
			ce, ok := err.(*CycleError[string])
			if !ok || order != nil {
				t.Fatalf("Sort = %v, %v; want a *CycleError", order, err)
			}
			if err.Error() != tc.want {
				t.Errorf("error = %q\n want %q", err, tc.want)
			}
			if ce.Cycle.Path[0] != ce.Cycle.Members[0] || ce.Cycle.Path[len(ce.Cycle.Path)-1] != ce.Cycle.Members[0] {
				t.Errorf("path %v does not start and end at the first member %s", ce.Cycle.Path, ce.Cycle.Members[0])
			}
		})
	}
}

func TestCycles(t *testing.T) {
	g := build("z a b c d e f",
		"a<b", "b<c", "c<a", // a three-cycle
		"d<d",        // a node its own input
		"e<a", "f<e", // behind the first cycle, not on one
		"z<f")
	got := g.Cycles()
	want := []Cycle[string]{
		{Members: []string{"a", "b", "c"}, Path: []string{"a", "b", "c", "a"}},
		{Members: []string{"d"}, Path: []string{"d", "d"}},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Cycles = %v\n want %v", got, want)
	}
	if c := build("a b", "a<b").Cycles(); c != nil {
		t.Errorf("acyclic graph: Cycles = %v", c)
	}
}

// Each path step is a real edge: Path[i] depends on Path[i+1].
func TestCyclePathFollowsEdges(t *testing.T) {
	g := build("a b c d e", "a<e", "e<d", "d<c,a", "c<b", "b<a")
	for _, c := range g.Cycles() {
		for i := 0; i+1 < len(c.Path); i++ {
			if !slices.Contains(g.Inputs(c.Path[i]), c.Path[i+1]) {
				t.Errorf("path %v: %s does not depend on %s", c.Path, c.Path[i], c.Path[i+1])
			}
		}
		if strings.Join(c.Path, " ") != "a e d a" {
			t.Errorf("path %v, want the shortest, a e d a", c.Path)
		}
	}
}

func TestAncestors(t *testing.T) {
	// data <- train0, train1 <- embed0, embed1 <- eval; other is unrelated.
	g := build("data other train0 train1 embed0 embed1 eval",
		"train0<data", "train1<data", "embed0<train0", "embed1<train1", "eval<embed0,embed1")
	cases := []struct {
		roots []string
		want  string
	}{
		{nil, ""},
		{[]string{"data"}, ""},
		{[]string{"train1"}, "data"},
		{[]string{"eval"}, "data train0 train1 embed0 embed1"},
		{[]string{"embed1", "train0"}, "data train1"},
		{[]string{"eval", "train0"}, "data train0 train1 embed0 embed1"}, // a root that another root needs
		{[]string{"other", "embed0"}, "data train0"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.roots, ","), func(t *testing.T) {
			if got := strings.Join(g.Ancestors(tc.roots...), " "); got != tc.want {
				t.Errorf("Ancestors(%v) = %q, want %q", tc.roots, got, tc.want)
			}
		})
	}
	if got := build("a b", "a<b", "b<a").Ancestors("a"); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("on a cycle: Ancestors = %v, want the root too", got)
	}
}

func TestFirstAncestors(t *testing.T) {
	// Kinds are the name up to the digit: eval <- embed <- train <- data; eval2 also reads
	// train2 directly beside its embedding of train1.
	g := build("data train1 train2 embed1 eval eval2 train9",
		"train1<data", "train2<data", "embed1<train1", "eval<embed1", "eval2<embed1,train2", "train9<train1")
	kind := func(k string) func(string) bool {
		return func(n string) bool { return strings.TrimRight(n, "0123456789") == k }
	}
	cases := []struct {
		from, kind, want string
	}{
		{"eval", "embed", "embed1"},
		{"eval", "train", "train1"},
		{"eval", "data", "data"},
		{"eval", "eval", ""},
		{"eval2", "train", "train1 train2"},
		{"train9", "train", "train1"}, // stops at the first train node, not data behind it
		{"data", "train", ""},
	}
	for _, tc := range cases {
		t.Run(tc.from+"/"+tc.kind, func(t *testing.T) {
			if got := strings.Join(g.FirstAncestors(tc.from, kind(tc.kind)), " "); got != tc.want {
				t.Errorf("FirstAncestors(%s, %s) = %q, want %q", tc.from, tc.kind, got, tc.want)
			}
		})
	}
	// Through a match: data is behind train1 on every path from eval, so a walk that stops
	// at train nodes never reaches it.
	either := func(n string) bool { return kind("train")(n) || kind("data")(n) }
	if got := g.FirstAncestors("eval", either); !slices.Equal(got, []string{"train1"}) {
		t.Errorf("stop at train or data: %v, want [train1]", got)
	}
}

// run drives a tracker as an executor with one job would: take the first ready node,
// finish it, queue what became ready, keeping the priority order.
func run(t *testing.T, tr *Tracker[string], prio []string) []string {
	t.Helper()
	rank := map[string]int{}
	for i, n := range prio {
		rank[n] = i
	}
	ready := tr.Ready()
	var order []string
	for len(ready) > 0 {
		n := ready[0]
		ready = ready[1:]
		order = append(order, n)
		became := tr.Done(n)
		if !slices.IsSortedFunc(became, func(a, b string) int { return rank[a] - rank[b] }) {
			t.Errorf("Done(%s) = %v, not in priority order", n, became)
		}
		ready = append(ready, became...)
		slices.SortFunc(ready, func(a, b string) int { return rank[a] - rank[b] })
	}
	return order
}

func TestTracker(t *testing.T) {
	g := build("data train0 train1 embed0 embed1 eval",
		"train0<data", "train1<data", "embed0<train0", "embed1<train1", "eval<embed0,embed1")
	cases := []struct {
		name      string
		set       []string
		wantReady string
		wantOrder string
	}{
		{"all", []string{"data", "train0", "train1", "embed0", "embed1", "eval"}, "data", "data train0 train1 embed0 embed1 eval"},
		{"priority decides ties", []string{"data", "train1", "train0", "embed1", "embed0", "eval"}, "data", "data train1 train0 embed1 embed0 eval"},
		{"inputs outside the set count as done", []string{"train1", "embed1"}, "train1", "train1 embed1"},
		{"independent nodes are all ready", []string{"embed0", "train1"}, "embed0 train1", "embed0 train1"},
		{"empty", nil, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := g.Tracker(tc.set)
			if got := strings.Join(tr.Ready(), " "); got != tc.wantReady {
				t.Errorf("Ready = %q, want %q", got, tc.wantReady)
			}
			if got := strings.Join(run(t, tr, tc.set), " "); got != tc.wantOrder {
				t.Errorf("order = %q, want %q", got, tc.wantOrder)
			}
			if tr.Left() != 0 {
				t.Errorf("Left = %d after every node was done", tr.Left())
			}
		})
	}
}

// A node with two inputs becomes ready only when the second is done, and exactly once.
func TestTrackerWaitsForEveryInput(t *testing.T) {
	g := build("a b c", "c<a,b", "c<b") // the repeated edge counts once
	tr := g.Tracker([]string{"a", "b", "c"})
	if got := tr.Done("b"); len(got) != 0 {
		t.Errorf("Done(b) = %v, want nothing yet", got)
	}
	if got := tr.Done("a"); !slices.Equal(got, []string{"c"}) {
		t.Errorf("Done(a) = %v, want [c]", got)
	}
	if tr.Left() != 1 {
		t.Errorf("Left = %d, want 1", tr.Left())
	}
}

func TestMisuseIsAPanicWithAMessage(t *testing.T) {
	g := build("a b", "b<a")
	cases := []struct {
		name string
		f    func()
		want string
	}{
		{"connect unknown", func() { g.Connect("a", "zz") }, "dag: Connect: node zz was never added"},
		{"ancestors of unknown", func() { g.Ancestors("zz") }, "dag: Ancestors: node zz was never added"},
		{"tracker twice", func() { g.Tracker([]string{"a", "a"}) }, "dag: Tracker: node a given twice"},
		{"done untracked", func() { g.Tracker([]string{"a"}).Done("b") }, "dag: Done(b): not a tracked node"},
		{"done twice", func() { tr := g.Tracker([]string{"a"}); tr.Done("a"); tr.Done("a") }, "dag: Done(a) called twice"},
		{"done early", func() { g.Tracker([]string{"a", "b"}).Done("b") }, "dag: Done(b) before its inputs were done"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.HasPrefix(s, tc.want) {
					t.Errorf("panic = %v, want %q", r, tc.want)
				}
			}()
			tc.f()
		})
	}
}

func TestAddTwiceAndAccessors(t *testing.T) {
	g := New(func(n int) string { return fmt.Sprintf("n%d", n) })
	if !g.Add(3) || !g.Add(1) || g.Add(3) {
		t.Error("Add: want true, true, false")
	}
	g.Connect(3, 1)
	if g.Len() != 2 || !g.Has(1) || g.Has(2) {
		t.Errorf("Len %d, Has(1) %v, Has(2) %v", g.Len(), g.Has(1), g.Has(2))
	}
	if !slices.Equal(g.Nodes(), []int{3, 1}) || !slices.Equal(g.Inputs(3), []int{1}) || !slices.Equal(g.Dependents(1), []int{3}) {
		t.Errorf("Nodes %v, Inputs(3) %v, Dependents(1) %v", g.Nodes(), g.Inputs(3), g.Dependents(1))
	}
	g.Connect(1, 3)
	if _, err := g.Sort(); err == nil || err.Error() != "dependency cycle: n3 -> n1 -> n3 (each depends on the next)" {
		t.Errorf("names come from the name function: %v", err)
	}
}

// Long chains and one long cycle: nothing recurses per node, and the work stays linear
// (this runs in milliseconds; a quadratic step would take minutes).
func TestLongChains(t *testing.T) {
	const n = 200_000
	g := New[int](nil)
	for i := range n {
		g.Add(i)
		if i > 0 {
			g.Connect(i, i-1)
		}
	}
	order, err := g.Sort()
	if err != nil || len(order) != n || order[0] != 0 || order[n-1] != n-1 {
		t.Fatalf("chain: %d nodes, err %v", len(order), err)
	}
	if len(g.Ancestors(n-1)) != n-1 || len(g.FirstAncestors(n-1, func(i int) bool { return i == 0 })) != 1 {
		t.Error("chain: ancestors")
	}
	g.Connect(0, n-1)
	cs := g.Cycles()
	if len(cs) != 1 || len(cs[0].Members) != n || len(cs[0].Path) != n+1 {
		t.Fatalf("one long cycle: %d cycles", len(cs))
	}
}
