package pipeline

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"dmlrun/stage"
	"dmlrun/store"
)

// The executor decodes each node's parameters with the stage's Def.Decode and hands the
// typed config to Run (ttyped, in typed_test.go, records what it got).
func TestExecutorPassesDecodedConfig(t *testing.T) {
	e := newEnv(t)
	g := e.build([]Decl{typedDecl(t, map[string]any{"root": "data/x", "n": 4, "loss": "scaled"})})
	if _, err := e.apply(g); err != nil {
		t.Fatal(err)
	}
	runs := typedRuns()
	want := tcConfig{Root: "data/x", N: 4, Schedule: tcSchedule{LR: 0.1},
		Loss: stage.Variant{Kind: "scaled", Params: stage.Params{"w": 1.0, "scratch": ""}}}
	if len(runs) != 1 || !runs[0].fromExecutor || !reflect.DeepEqual(runs[0].cfg, want) {
		t.Errorf("runs = %+v, want one with the executor's config %+v", runs, want)
	}
}

// Parameters the stage's Decode rejects (or panics on) fail the node before anything is
// written: no run, no artifact, nothing left in tmp/, the problem in the error.
func TestExecutorDecodeProblemsFailTheNode(t *testing.T) {
	const rejects = "ttyped.x: stage ttyped rejects the parameters (validate reports these at their source, so this is a bug in the stage or parameters that did not come from spec): "
	cases := []struct {
		name   string
		params stage.Params
		want   string
	}{
		{"bound", stage.Params{"n": int64(0)}, rejects + `n: Value out of range: "n" must be at least 1; got 0.`},
		{"check", stage.Params{"n": int64(13)}, rejects + "n: Unlucky number: n must not be 13; pick another."},
		{"several", stage.Params{"n": int64(0), "schedule": map[string]any{"lr": -1.0}}, rejects + `n: Value out of range: "n" must be at least 1; got 0.; schedule.lr: Value out of range: "schedule.lr" must be greater than 0; got -1.`},
		{"wrong Go type", stage.Params{"n": "seven"}, "ttyped.x: stage ttyped: decoding the parameters panicked (a bug in the stage, or parameters that did not come from spec): stage: parameter n: cannot store string in a int field"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			g := e.build([]Decl{{Addr: "ttyped.x", Kind: "ttyped", Name: "x", Params: tc.params}})
			res, err := e.apply(g)
			var ne *NodeError
			if !errors.As(err, &ne) || ne.Addr != "ttyped.x" || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v\nwant a NodeError containing %q", err, tc.want)
			}
			if res.Nodes[0].Status != StatusFailed {
				t.Errorf("status %s", res.Nodes[0].Status)
			}
			if runs := e.runs(); len(runs) != 0 || len(typedRuns()) != 0 {
				t.Errorf("the stage ran: %v", runs)
			}
			if _, err := e.st.Get(g.Nodes[0].Key); !store.IsMiss(err) {
				t.Errorf("an artifact was stored: %v", err)
			}
			if temps, _ := e.st.Temps(); len(temps) != 0 {
				t.Errorf("left in tmp/: %v", temps)
			}
		})
	}
}
