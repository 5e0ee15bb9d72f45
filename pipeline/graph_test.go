package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"dmlrun/spec"
	"dmlrun/stage"

	"github.com/hashicorp/hcl/v2"
)

// Stages spec can decode, for graphs made from an experiment file: sdata feeds strain
// (which may learn from a teacher strain), sembed embeds each model, seval scores each
// embedding.
func specDefs() []*stage.Def {
	write := func(c *stage.Context) error {
		return os.WriteFile(filepath.Join(c.OutDir, "out.txt"), []byte(c.Addr), 0o644)
	}
	return []*stage.Def{
		{Kind: "sdata", Version: 1, Run: write,
			Params: []stage.Param{{Name: "n", Type: stage.Int, Default: int64(1)}}},
		{Kind: "strain", Version: 1, Run: write,
			Params: []stage.Param{
				{Name: "dataset", Type: stage.Ref, RefKind: "sdata", Required: true},
				{Name: "teacher", Type: stage.Ref, RefKind: "strain"},
			}},
		{Kind: "sembed", Version: 1, Run: write, ExpandOver: "models",
			Params: []stage.Param{{Name: "models", Type: stage.RefList, RefKind: "strain", Required: true}}},
		{Kind: "seval", Version: 1, Run: write, ExpandOver: "from",
			Params: []stage.Param{{Name: "from", Type: stage.RefList, RefKind: "sembed", Required: true}}},
	}
}

const lineageHCL = `sdata "d" {
  n = 3
}

strain "t" {
  dataset = sdata.d
  seeds   = [0, 1]
}

strain "student" {
  dataset = sdata.d
  teacher = strain.t
}

sembed "e" {
  models = [strain.t, strain.student]
}

seval "m" {
  from = sembed.e
}
`

func specGraph(t *testing.T) (*Graph, []byte) {
	t.Helper()
	src := []byte(lineageHCL)
	exp, diags := spec.Parse("lineage.hcl", src, spec.LoadOptions{Registry: testStages})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	g, err := Build(testStages, FromSpec(exp), BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return g, src
}

// Typed addresses and source ranges survive from spec into the graph's nodes and edges.
func TestFromSpecKeepsAddressesAndRanges(t *testing.T) {
	g, src := specGraph(t)
	text := func(r hcl.Range) string { return string(src[r.Start.Byte:r.End.Byte]) }
	n := g.Node("strain.t[seed=1]")
	if n == nil {
		t.Fatalf("no strain.t[seed=1] among %v", keysOf(g))
	}
	if want := (spec.Addr{Kind: "strain", Name: "t", Instance: "seed=1"}); n.Address != want || g.At(want) != n {
		t.Errorf("Address = %+v, want %+v", n.Address, want)
	}
	if n.Kind != "strain" || n.Name != "t" || n.Addr != "strain.t[seed=1]" {
		t.Errorf("Kind, Name, Addr = %q, %q, %q", n.Kind, n.Name, n.Addr)
	}
	if n.DeclRange.Filename != "lineage.hcl" || n.DeclRange.Start.Line != 5 || text(n.DeclRange) != `strain "t"` {
		t.Errorf("DeclRange = %v (%q)", n.DeclRange, text(n.DeclRange))
	}
	if len(n.Inputs) != 1 || n.Inputs[0].Param != "dataset" || n.Inputs[0].From != g.Node("sdata.d") ||
		n.Inputs[0].Range.Start.Line != 6 || text(n.Inputs[0].Range) != "sdata.d" {
		t.Errorf("inputs = %+v", n.Inputs)
	}
	st := g.Node("strain.student")
	var got []string
	for _, e := range st.Inputs {
		got = append(got, fmt.Sprintf("%s=%s@%d:%s", e.Param, e.From.Addr, e.Range.Start.Line, text(e.Range)))
	}
	want := []string{"dataset=sdata.d@11:sdata.d", "teacher=strain.t[seed=0]@12:strain.t", "teacher=strain.t[seed=1]@12:strain.t"}
	if !slices.Equal(got, want) {
		t.Errorf("strain.student inputs:\n got %v\nwant %v", got, want)
	}
}

func TestLineage(t *testing.T) {
	g, _ := specGraph(t)
	names := func(ns []*Node) string {
		var s []string
		for _, n := range ns {
			s = append(s, n.Addr)
		}
		return strings.Join(s, " ")
	}
	cases := []struct {
		addr  string
		kinds []string
		want  map[string]string
	}{
		{"seval.m[sembed.e[strain.t[seed=1]]]", []string{"sembed", "strain"},
			map[string]string{"sembed": "sembed.e[strain.t[seed=1]]", "strain": "strain.t[seed=1]"}},
		// The nearest train node, not the teachers behind it.
		{"seval.m[sembed.e[strain.student]]", []string{"sembed", "strain", "sdata"},
			map[string]string{"sembed": "sembed.e[strain.student]", "strain": "strain.student", "sdata": "sdata.d"}},
		{"strain.student", []string{"strain"}, map[string]string{"strain": "strain.t[seed=0] strain.t[seed=1]"}},
		{"sdata.d", []string{"sdata", "strain"}, map[string]string{}},
		{"sembed.e[strain.student]", nil, map[string]string{}},
	}
	for _, tc := range cases {
		t.Run(tc.addr, func(t *testing.T) {
			l, err := g.Lineage(tc.addr, tc.kinds...)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for k, ns := range l {
				got[k] = names(ns)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("Lineage = %v, want %v", got, tc.want)
			}
		})
	}
	l, _ := g.Lineage("seval.m[sembed.e[strain.student]]", "strain")
	if l.Only("strain") != g.Node("strain.student") || l.Only("sdata") != nil {
		t.Errorf("Only: %v, %v", l.Only("strain"), l.Only("sdata"))
	}
	if l, _ := g.Lineage("strain.student", "strain"); l.Only("strain") != nil {
		t.Error("Only with two ancestors of the kind must be nil")
	}
	if _, err := g.Lineage("seval.zz", "strain"); err == nil || !strings.Contains(err.Error(), "no node seval.zz in the experiment (blocks: sdata.d, strain.t") {
		t.Errorf("unknown address: %v", err)
	}
}

// rng is a source range on one line of x.hcl, as spec would set it.
func rng(line, from, to int) hcl.Range {
	return hcl.Range{Filename: "x.hcl", Start: hcl.Pos{Line: line, Column: from, Byte: 100*line + from}, End: hcl.Pos{Line: line, Column: to, Byte: 100*line + to}}
}

// Errors of a graph built from declarations with ranges (as FromSpec makes them) say where,
// in their text and as diagnostics.
func TestBuildErrorsCarryRanges(t *testing.T) {
	ref := func(target string, line int) []DeclRef {
		return []DeclRef{{Param: "models", Target: target, Range: rng(line, 12, 12+len(target))}}
	}
	cases := []struct {
		name    string
		decls   []Decl
		err     string
		summary string
		subject hcl.Range
		context hcl.Range
	}{
		{"unknown target", []Decl{{Addr: "teval.e", DeclRange: rng(1, 1, 13), Inputs: ref("ttrain.zz", 2)}},
			"x.hcl:2,12-21: teval.e: models refers to unknown node ttrain.zz; declare it or remove the reference",
			"Reference to unknown node", rng(2, 12, 21), rng(1, 1, 13)},
		{"unknown kind", []Decl{{Address: spec.Addr{Kind: "nope", Name: "x"}, DeclRange: rng(4, 1, 9)}},
			`x.hcl:4,1-9: nope.x: no stage is registered for block type "nope" (registered: `,
			"Unknown block type", rng(4, 1, 9), hcl.Range{}},
		{"declared twice", []Decl{{Addr: "tload.x", DeclRange: rng(1, 1, 9)}, {Addr: "tload.x", DeclRange: rng(5, 1, 9)}},
			"x.hcl:5,1-9: tload.x: declared twice (first at x.hcl:1,1-9)",
			"Duplicate node", rng(5, 1, 9), hcl.Range{}},
		{"cycle", []Decl{
			{Addr: "teval.a", DeclRange: rng(1, 1, 9), Inputs: ref("teval.c", 2)},
			{Addr: "teval.b", DeclRange: rng(3, 1, 9), Inputs: ref("teval.a", 4)},
			{Addr: "teval.c", DeclRange: rng(5, 1, 9), Inputs: ref("teval.b", 6)},
		}, `x.hcl:4,12-19: dependency cycle: teval.a -> teval.b -> teval.c -> teval.a: teval.b reads teval.a through "models" at x.hcl:4,12-19, teval.c reads teval.b through "models" at x.hcl:6,12-19, teval.a reads teval.c through "models" at x.hcl:2,12-19; a node cannot depend on itself, directly or through others, so remove one of these references`,
			"Dependency cycle", rng(4, 12, 19), rng(3, 1, 9)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Build(testStages, tc.decls, BuildOptions{})
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
				t.Fatalf("err = %v\nwant %q", err, tc.err)
			}
			var ge *GraphError
			if !errors.As(err, &ge) {
				t.Fatalf("err is %T, not a *GraphError", err)
			}
			diags := Diagnostics(fmt.Errorf("wrapped: %w", err))
			if len(diags) != 1 {
				t.Fatalf("Diagnostics = %v, want 1", diags)
			}
			d := diags[0]
			if d.Severity != hcl.DiagError || d.Summary != tc.summary || !strings.HasSuffix(d.Detail, ".") {
				t.Errorf("diagnostic %q: %q", d.Summary, d.Detail)
			}
			if got := rangeOf(d.Subject); got != tc.subject {
				t.Errorf("Subject = %v, want %v", got, tc.subject)
			}
			if got := rangeOf(d.Context); got != tc.context {
				t.Errorf("Context = %v, want %v", got, tc.context)
			}
		})
	}
}

func rangeOf(r *hcl.Range) hcl.Range {
	if r == nil {
		return hcl.Range{}
	}
	return *r
}

// A graph Build reports problems in every declaration of a step, each a GraphError.
func TestDiagnosticsOfSeveralProblems(t *testing.T) {
	_, err := Build(testStages, []Decl{
		{Addr: "teval.a", Inputs: []DeclRef{{Param: "models", Target: "ttrain.x"}}},
		{Addr: "teval.b", Inputs: []DeclRef{{Param: "models", Target: "ttrain.y"}}},
	}, BuildOptions{})
	diags := Diagnostics(err)
	if len(diags) != 2 || diags[0].Subject != nil || !strings.Contains(diags[1].Detail, "teval.b: models refers to unknown node ttrain.y") {
		t.Errorf("Diagnostics = %v", diags)
	}
	if Diagnostics(errors.New("other")) != nil || Diagnostics(nil) != nil {
		t.Error("errors that are not GraphErrors give no diagnostics")
	}
}

// Cycles of one, two and three nodes: one is reported, from its earliest declared node,
// following the data (each node an input of the next).
func TestCycleReports(t *testing.T) {
	decl := func(name string, inputs ...string) Decl {
		d := Decl{Addr: "teval." + name}
		for _, in := range inputs {
			d.Inputs = append(d.Inputs, DeclRef{Param: "models", Target: "teval." + in})
		}
		return d
	}
	cases := []struct {
		name  string
		decls []Decl
		want  string
	}{
		{"one", []Decl{decl("a", "a")}, "dependency cycle: teval.a -> teval.a: teval.a reads teval.a through \"models\";"},
		{"two", []Decl{decl("a", "b"), decl("b", "a")}, "dependency cycle: teval.a -> teval.b -> teval.a: teval.b reads teval.a through \"models\", teval.a reads teval.b through \"models\";"},
		{"three", []Decl{decl("c", "b"), decl("b", "a"), decl("a", "c")}, "dependency cycle: teval.c -> teval.a -> teval.b -> teval.c:"},
		{"beside other nodes", []Decl{decl("x"), decl("y", "b"), decl("b", "a"), decl("a", "b", "x")}, "dependency cycle: teval.b -> teval.a -> teval.b:"},
		{"two cycles", []Decl{decl("p", "q"), decl("q", "p"), decl("a", "a")}, "dependency cycle: teval.p -> teval.q -> teval.p: "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Build(testStages, tc.decls, BuildOptions{})
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("err = %v\nwant prefix %q", err, tc.want)
			}
		})
	}
	_, err := Build(testStages, []Decl{decl("p", "q"), decl("q", "p"), decl("a", "a")}, BuildOptions{})
	if err == nil || !strings.HasSuffix(err.Error(), " (and 1 more cycle(s))") {
		t.Errorf("two cycles: %v", err)
	}
}

func TestHandWrittenAddresses(t *testing.T) {
	cases := []struct {
		name string
		decl Decl
		want string // error, or the node's address
	}{
		{"address only", Decl{Addr: "tload.x[seed=1]"}, "tload.x[seed=1]"},
		{"kind and name agree", Decl{Addr: "tload.x", Kind: "tload", Name: "x"}, "tload.x"},
		{"typed address wins", Decl{Address: spec.Addr{Kind: "tload", Name: "y", Instance: "i"}, Addr: "ignored"}, "tload.y[i]"},
		{"name disagrees", Decl{Addr: "tload.x", Name: "y"}, `tload.x: Kind "" and Name "y" do not match the address tload.x; leave them empty or make them agree.`},
		{"unparsable", Decl{Addr: "tload"}, `tload: address "tload": want <kind>.<name>[<instance>].`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.decl.Params = stage.Params{"n": int64(1)}
			g, err := Build(testStages, []Decl{tc.decl}, BuildOptions{})
			got := ""
			if err != nil {
				got = err.Error()
			} else {
				got = g.Nodes[0].Addr
				if g.Nodes[0].Address.String() != got || g.Node(got) != g.Nodes[0] {
					t.Errorf("Address %v, Addr %s", g.Nodes[0].Address, got)
				}
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// With one job, the executor runs nodes in the plan's (topological) order: the tracker
// hands them out as their inputs finish and ties go to the earlier node.
func TestOneJobRunsInPlanOrder(t *testing.T) {
	e := newEnv(t)
	// Declared out of order: teval first, a second tload last.
	d := experiment(1e-5)
	d = append([]Decl{d[3]}, d[:3]...)
	d = append(d, Decl{Addr: "tload.late", Kind: "tload", Name: "late", Params: stage.Params{"n": int64(8)}})
	g := e.build(d)
	var order []string
	for _, n := range g.Nodes {
		order = append(order, n.Addr)
	}
	if want := []string{"tload.data", "ttrain.a[seed=0]", "ttrain.a[seed=1]", "teval.e", "tload.late"}; !slices.Equal(order, want) {
		t.Fatalf("graph order %v, want %v", order, want)
	}
	ex := e.executor()
	ex.Jobs = 1
	if _, err := ex.Apply(context.Background(), g, e.plan(g)); err != nil {
		t.Fatal(err)
	}
	if got := e.runs(); !slices.Equal(got, order) {
		t.Errorf("ran %v, want %v", got, order)
	}
}

// A plan that lists a node twice is stale (someone edited it), not a crash.
func TestPlanListingANodeTwice(t *testing.T) {
	e := newEnv(t)
	g := e.build(experiment(1e-5))
	p := e.plan(g)
	p.Nodes = append(p.Nodes, p.Nodes[0])
	_, err := e.executor().Apply(context.Background(), g, p)
	var se *StalePlanError
	if !errors.As(err, &se) || se.Reason != "listed twice in the plan" {
		t.Errorf("err = %v, want a StalePlanError", err)
	}
}
