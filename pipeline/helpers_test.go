package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"dmlrun/stage"
	"dmlrun/store"
)

// Test-only stages: tload writes data.txt; ttrain reads it and writes model.txt (resumable,
// exclusive); teval reads models and writes metrics.txt. Every run appends "<addr>\n" to the
// file named by $DMLRUN_TEST_RUNLOG (so separate processes can be counted), and hooks let a
// test fail or block a node.
var (
	hookMu   sync.Mutex
	failAddr = map[string]error{} // addr -> error to return
	onRun    func(c *stage.Context)

	exclusiveNow, exclusiveMax atomic.Int32
)

func setFail(addr string, err error) {
	hookMu.Lock()
	defer hookMu.Unlock()
	if err == nil {
		delete(failAddr, addr)
	} else {
		failAddr[addr] = err
	}
}

func logRun(c *stage.Context) error {
	if name := os.Getenv("DMLRUN_TEST_RUNLOG"); name != "" {
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		fmt.Fprintf(f, "%s resumed=%v pid=%d\n", c.Addr, c.Resumed, os.Getpid())
		f.Close()
	}
	hookMu.Lock()
	err, hook := failAddr[c.Addr], onRun
	hookMu.Unlock()
	if hook != nil {
		hook(c)
	}
	// Blocking hook for the SIGKILL test: write a partial file, say so, then wait forever.
	if os.Getenv("DMLRUN_TEST_BLOCK") == c.Addr {
		os.WriteFile(filepath.Join(c.OutDir, "epoch-1.txt"), []byte("partial"), 0o644)
		os.WriteFile(os.Getenv("DMLRUN_TEST_STARTED"), []byte(c.OutDir), 0o644)
		select {}
	}
	return err
}

// testStages is the registry every test of this package builds graphs with: the stages
// declared in its test files.
var testStages = newTestRegistry(coreDefs(), specDefs(), fileDefs(), manifestKeyDefs(), typedDefs(), jobDefs(), isolateDefs())

// newTestRegistry collects groups of test stages; a bad declaration is a bug of the test.
func newTestRegistry(groups ...[]*stage.Def) *stage.Registry {
	var defs []*stage.Def
	for _, g := range groups {
		defs = append(defs, g...)
	}
	r, err := stage.NewRegistry(defs...)
	if err != nil {
		panic(err)
	}
	return r
}

// coreDefs are tload, ttrain and teval.
func coreDefs() []*stage.Def {
	return []*stage.Def{{Kind: "tload", Version: 1,
		Params: []stage.Param{{Name: "n", Type: stage.Int}},
		Run: func(c *stage.Context) error {
			if err := logRun(c); err != nil {
				return err
			}
			fmt.Fprintf(c.Log, "loading %d\n", c.Params.Int("n"))
			return os.WriteFile(filepath.Join(c.OutDir, "data.txt"), []byte(fmt.Sprint(c.Params.Int("n"))), 0o644)
		}}, {Kind: "ttrain", Version: 1, Resumable: true, Exclusive: true,
		Run: func(c *stage.Context) error {
			if v := exclusiveNow.Add(1); v > exclusiveMax.Load() {
				exclusiveMax.Store(v)
			}
			defer exclusiveNow.Add(-1)
			if err := logRun(c); err != nil {
				return err
			}
			in := c.InputsOf("dataset")
			if len(in) != 1 {
				return fmt.Errorf("want 1 dataset input, got %d", len(in))
			}
			data, err := os.ReadFile(filepath.Join(in[0].Dir, "data.txt"))
			if err != nil {
				return err
			}
			bar := c.Progress.Start(c.Addr+" epoch", 2)
			bar.Add(2)
			bar.Finish()
			out := fmt.Sprintf("model(%s, lr=%v, seed=%d)", data, c.Params.Object("schedule")["lr"], c.Params.Int("seed"))
			return os.WriteFile(filepath.Join(c.OutDir, "model.txt"), []byte(out), 0o644)
		}}, {Kind: "teval", Version: 1,
		Run: func(c *stage.Context) error {
			if err := logRun(c); err != nil {
				return err
			}
			var parts []string
			for _, in := range c.InputsOf("models") {
				b, err := os.ReadFile(filepath.Join(in.Dir, "model.txt"))
				if err != nil {
					return err
				}
				parts = append(parts, string(b))
			}
			return os.WriteFile(filepath.Join(c.OutDir, "metrics.txt"), []byte(strings.Join(parts, "\n")), 0o644)
		}}}
}

// experiment builds the standard test graph: one load, train "a" over two seeds, an eval
// over both. lr is train's learning rate.
func experiment(lr float64) []Decl {
	d := []Decl{{Addr: "tload.data", Kind: "tload", Name: "data", Params: stage.Params{"n": int64(7)}}}
	for _, seed := range []int64{0, 1} {
		d = append(d, Decl{
			Addr: fmt.Sprintf("ttrain.a[seed=%d]", seed), Kind: "ttrain", Name: "a",
			Params: stage.Params{"seed": seed, "schedule": map[string]any{"lr": lr, "epochs": int64(2), "tau": []int64{1}}},
			Inputs: []DeclRef{{Param: "dataset", Target: "tload.data"}},
		})
	}
	d = append(d, Decl{Addr: "teval.e", Kind: "teval", Name: "e", Params: stage.Params{"metrics": []string{"r@1"}},
		Inputs: []DeclRef{{Param: "models", Target: "ttrain.a[seed=0]"}, {Param: "models", Target: "ttrain.a[seed=1]"}}})
	return d
}

type env struct {
	t      *testing.T
	stages *stage.Registry // testStages unless a test swaps a stage
	st     *store.Store
	runlog string
	exp    string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "results"))
	if err != nil {
		t.Fatal(err)
	}
	runlog := filepath.Join(dir, "runs.log")
	t.Setenv("DMLRUN_TEST_RUNLOG", runlog)
	return &env{t: t, stages: testStages, st: st, runlog: runlog, exp: filepath.Join(dir, "exp.hcl")}
}

func (e *env) build(decls []Decl) *Graph {
	e.t.Helper()
	g, err := Build(e.stages, decls, BuildOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return g
}

func (e *env) plan(g *Graph, targets ...string) *Plan {
	e.t.Helper()
	p, err := MakePlan(g, e.st, e.exp, "exp.hcl", targets)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) executor() *Executor {
	return &Executor{Store: e.st, Experiment: e.exp, Jobs: 4, Device: "cpu", Threads: 1,
		Provenance: store.Provenance{DmlrunVersion: "test", TorchVersion: "none"}}
}

func (e *env) apply(g *Graph, targets ...string) (*Result, error) {
	e.t.Helper()
	return e.executor().Apply(context.Background(), g, e.plan(g, targets...))
}

// runs returns the addresses that ran, in order, from the run log, and truncates it.
func (e *env) runs() []string {
	e.t.Helper()
	b, err := os.ReadFile(e.runlog)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	os.Remove(e.runlog)
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		out = append(out, strings.Fields(l)[0])
	}
	return out
}

func actions(p *Plan) map[string]string {
	m := map[string]string{}
	for _, n := range p.Nodes {
		m[n.Addr] = string(n.Action) + ": " + n.Reason
	}
	return m
}
