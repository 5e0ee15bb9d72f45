package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"dmlrun/pipeline"
	"dmlrun/stage"
	"dmlrun/stages/evaluate/metrics"
	"dmlrun/store"
)

// lineageStages is a registry of parameterless test stages of the given kinds.
func lineageStages(t *testing.T, kinds ...string) *stage.Registry {
	t.Helper()
	var defs []*stage.Def
	for _, k := range kinds {
		defs = append(defs, &stage.Def{Kind: k, Version: 1, Run: func(*stage.Context) error { return nil }})
	}
	r, err := stage.NewRegistry(defs...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// commitResult stores a metrics.json under n's key, as a finished evaluate node would.
func commitResult(t *testing.T, st *store.Store, n *pipeline.Node, res *metrics.Result) {
	t.Helper()
	unlock, err := st.Lock(context.Background(), n.Key, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	tx, err := st.Begin(n.Key, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := metrics.WriteResult(tx.Dir, res); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(&store.Manifest{Stage: n.Kind, StageVersion: 1, Addr: n.Addr}); err != nil {
		t.Fatal(err)
	}
}

// A graph with train -> embed -> evaluate lineage (test stage kinds) and some evaluate
// artifacts in a real store: RunsOf picks the right ones, names them from the graph, warns
// about the unfinished one, and says which blocks exist when asked for an unknown one.
func TestRunsOfGraphAndStore(t *testing.T) {
	stages := lineageStages(t, "dtrain", "dembed", "devaluate")
	var decls []pipeline.Decl
	for _, b := range []string{"baseline", "nir"} {
		for seed := 0; seed < 3; seed++ {
			tr := fmt.Sprintf("dtrain.%s[seed=%d]", b, seed)
			em := fmt.Sprintf("dembed.test[%s]", tr)
			decls = append(decls,
				pipeline.Decl{Addr: tr, Kind: "dtrain", Name: b, Params: stage.Params{"seed": int64(seed), "loss": b}},
				pipeline.Decl{Addr: em, Kind: "dembed", Name: "test", Inputs: []pipeline.DeclRef{{Param: "models", Target: tr}}},
				pipeline.Decl{Addr: fmt.Sprintf("devaluate.test[%s]", em), Kind: "devaluate", Name: "test",
					Inputs: []pipeline.DeclRef{{Param: "from", Target: em}}})
		}
	}
	g, err := pipeline.Build(stages, decls, pipeline.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range g.Nodes {
		if n.Kind != "devaluate" || strings.Contains(n.Addr, "nir[seed=2]") { // nir seed 2 not finished
			continue
		}
		seed := int64(n.Addr[strings.Index(n.Addr, "seed=")+5] - '0')
		v := 0.6 + 0.01*float64(seed)
		if strings.Contains(n.Addr, "nir") {
			v += 0.05
		}
		commitResult(t, st, n, &metrics.Result{Metrics: map[string]metrics.Value{"e_recall@1": metrics.Value(v)},
			Run: metrics.Run{Block: "from-embed-json", Seed: seed}})
	}
	q := func(block, eval string) RunsQuery {
		return RunsQuery{File: "exp.hcl", Block: block, Evaluate: eval, TrainKind: "dtrain", EvalKind: "devaluate"}
	}
	var warn bytes.Buffer
	sd, err := RunsOf(g, st, q("nir", ""), &warn)
	if err != nil {
		t.Fatal(err)
	}
	if sd.Name != "nir" || sd.Evaluate != "test" {
		t.Errorf("side %q of %q", sd.Name, sd.Evaluate)
	}
	var seeds []int64
	for _, r := range sd.Runs {
		if r.Block != "nir" || !strings.HasPrefix(r.Addr, "dtrain.nir[") {
			t.Errorf("run %+v: block and address must come from the graph lineage", r)
		}
		seeds = append(seeds, r.Seed)
	}
	if !slices.Equal(seeds, []int64{0, 1}) || !strings.Contains(warn.String(), "1 of 3 run(s) not in the store") {
		t.Errorf("seeds %v, warning %q", seeds, warn.String())
	}
	if sd, err := RunsOf(g, st, q("baseline", "test"), &warn); err != nil || len(sd.Runs) != 3 {
		t.Errorf("baseline: %+v, %v", sd, err)
	}
	for _, c := range []struct{ block, eval, want string }{
		{"nri", "", `exp.hcl: no dtrain block "nri" (have: baseline, nir)`},
		{"nir", "val", `exp.hcl: no devaluate block "val" (have: test)`},
	} {
		if _, err := RunsOf(g, st, q(c.block, c.eval), &warn); err == nil || err.Error() != c.want {
			t.Errorf("%s/%s: error %v, want %q", c.block, c.eval, err, c.want)
		}
	}
}

// With several evaluate blocks, the one that evaluates the asked train block is chosen;
// only when several do must the caller pick. A train node's teacher (another train node
// further up) is not the evaluation's lineage.
func TestRunsOfChoosesTheEvaluateBlock(t *testing.T) {
	stages := lineageStages(t, "xtrain", "xembed", "xevaluate")
	decl := func(kind, name string, targets ...string) pipeline.Decl {
		addr := kind + "." + name
		d := pipeline.Decl{Addr: addr, Kind: kind, Name: name}
		if kind != "xtrain" && len(targets) > 0 {
			d.Addr = fmt.Sprintf("%s[%s]", addr, targets[0])
		}
		for _, target := range targets {
			d.Inputs = append(d.Inputs, pipeline.DeclRef{Param: "from", Target: target})
		}
		return d
	}
	decls := []pipeline.Decl{
		decl("xtrain", "a"), decl("xtrain", "b"), decl("xtrain", "student", "xtrain.a"),
		decl("xembed", "ea", "xtrain.a"), decl("xembed", "eb", "xtrain.b"), decl("xembed", "es", "xtrain.student"),
		decl("xevaluate", "fa", "xembed.ea[xtrain.a]"),
		decl("xevaluate", "fb", "xembed.eb[xtrain.b]"),
		decl("xevaluate", "fb2", "xembed.eb[xtrain.b]"),
		decl("xevaluate", "fs", "xembed.es[xtrain.student]"),
	}
	g, err := pipeline.Build(stages, decls, pipeline.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := Evaluators(g, "a", "xtrain", "xevaluate"); !slices.Equal(got, []string{"fa"}) {
		t.Errorf("evaluators of a: %v, want [fa] (not fs, which evaluates a's student)", got)
	}
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	q := func(block string) RunsQuery {
		return RunsQuery{File: "exp.hcl", Block: block, TrainKind: "xtrain", EvalKind: "xevaluate"}
	}
	var warn bytes.Buffer
	// a: only fa evaluates it, so fa is chosen (and its run is not finished: a miss, not a choice).
	_, err = RunsOf(g, st, q("a"), &warn)
	if err == nil || err.Error() != "exp.hcl: no finished results for xtrain.a: 1 xevaluate node(s) not in the store (run dmlrun apply exp.hcl)" {
		t.Errorf("a: %v", err)
	}
	// b: fb and fb2 both evaluate it: the caller must choose.
	_, err = RunsOf(g, st, q("b"), &warn)
	var ce *ChooseEvaluateError
	if !errors.As(err, &ce) || err.Error() != "exp.hcl has 4 xevaluate blocks (fa, fb, fb2, fs), 2 of them evaluating xtrain.b; choose one with --evaluate" {
		t.Errorf("b: %v", err)
	}
	// The student's evaluation is found through its own train node.
	commitResult(t, st, g.Node("xevaluate.fs[xembed.es[xtrain.student]]"), &metrics.Result{Metrics: map[string]metrics.Value{"nmi": 0.5}})
	sd, err := RunsOf(g, st, q("student"), &warn)
	if err != nil || len(sd.Runs) != 1 || sd.Runs[0].Addr != "xtrain.student" || sd.Runs[0].Block != "student" {
		t.Errorf("student: %+v, %v", sd, err)
	}
}
