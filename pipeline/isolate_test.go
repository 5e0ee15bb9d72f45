package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"dmlrun/stage"
)

// isolateDefs is tiso, an Exclusive stage with a declared seed and dataset (a Job must fit
// its schema) that writes its seed.
func isolateDefs() []*stage.Def {
	return []*stage.Def{{Kind: "tiso", Version: 1, Exclusive: true,
		Params: []stage.Param{{Name: "dataset", Type: stage.Ref, RefKind: "tload"}, {Name: "seed", Type: stage.Int}},
		Run: func(c *stage.Context) error {
			if err := logRun(c); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(c.OutDir, "seed.txt"), []byte(fmt.Sprint(c.Params.Int("seed"))), 0o644)
		}}}
}

// isolatedSeeds is the test graph of the isolation tests: one load and n tiso nodes.
func isolatedSeeds(n int) []Decl {
	d := []Decl{experiment(1e-5)[0]}
	for i := range n {
		d = append(d, Decl{Addr: fmt.Sprintf("tiso.a[seed=%d]", i), Kind: "tiso", Name: "a",
			Params: stage.Params{"seed": int64(i)}, Inputs: []DeclRef{{Param: "dataset", Target: "tload.data"}}})
	}
	return d
}

// TestIsolateRunsExclusiveSideBySide: with Isolate set, Exclusive nodes run Jobs at a time,
// each frozen as a Job with its share of the threads. Every isolated run waits until two
// have arrived, so a run-one-at-a-time executor never releases them (the test's timeout
// says so); the fake isolate runs the Job with RunJob, as run-node would.
func TestIsolateRunsExclusiveSideBySide(t *testing.T) {
	e := newEnv(t)
	g := e.build(isolatedSeeds(4))
	ex := e.executor()
	ex.Jobs, ex.Threads = 2, 5
	var arrived sync.WaitGroup
	arrived.Add(2)
	var mu sync.Mutex
	var calls int
	ex.Isolate = func(ctx context.Context, j *Job) error {
		mu.Lock()
		calls++
		first := calls <= 2
		mu.Unlock()
		if j.Threads != 2 || j.CPUs != 2 {
			t.Errorf("%s: frozen with %d threads of %d CPUs, want 5/2 = 2 of 2 (its share)", j.Addr, j.Threads, j.CPUs)
		}
		if first {
			arrived.Done()
			arrived.Wait()
		}
		child := e.executor() // another process: its own executor on the same store
		_, err := child.RunJob(ctx, e.stages, j)
		return err
	}
	res, err := ex.Apply(context.Background(), g, e.plan(g))
	if err != nil {
		t.Fatal(err)
	}
	if calls != 4 {
		t.Errorf("Isolate called %d times, want once per train (4)", calls)
	}
	for _, r := range res.Nodes {
		if r.Status != StatusComputed || r.Dir == "" {
			t.Errorf("%s: %s, dir %q", r.Addr, r.Status, r.Dir)
		}
	}
	// A second apply finds everything cached without starting a process.
	calls = 0
	if _, err := ex.Apply(context.Background(), g, e.plan(g)); err != nil || calls != 0 {
		t.Errorf("re-apply: err %v, %d processes started", err, calls)
	}
}

// TestIsolateFailure: an isolated node's error is the node's (a *NodeError), nothing is
// committed for it, and no new node starts after it.
func TestIsolateFailure(t *testing.T) {
	e := newEnv(t)
	g := e.build(isolatedSeeds(2))
	ex := e.executor()
	ex.Jobs = 1 // one at a time, so the second train is never started
	ex.Isolate = func(ctx context.Context, j *Job) error { return errors.New("the process was killed") }
	res, err := ex.Apply(context.Background(), g, e.plan(g))
	var ne *NodeError
	if !errors.As(err, &ne) || ne.Addr != "tiso.a[seed=0]" || !strings.Contains(err.Error(), "the process was killed") {
		t.Fatalf("err = %v, want the first train's NodeError", err)
	}
	if res.Nodes[1].Status != StatusFailed || res.Nodes[2].Status != StatusSkipped {
		t.Errorf("statuses %s, %s; want failed, skipped", res.Nodes[1].Status, res.Nodes[2].Status)
	}
	if _, err := e.st.Get(g.Nodes[1].Key); err == nil {
		t.Error("a failed isolated node has an artifact")
	}
}

// TestIsolateWithoutArtifact: a process that ends without error but committed nothing is a
// failure that says so, not a computed node.
func TestIsolateWithoutArtifact(t *testing.T) {
	e := newEnv(t)
	g := e.build(isolatedSeeds(1))
	ex := e.executor()
	ex.Isolate = func(context.Context, *Job) error { return nil }
	_, err := ex.Apply(context.Background(), g, e.plan(g))
	if err == nil || !strings.Contains(err.Error(), "ended without error, but the store has no usable artifact") {
		t.Fatalf("err = %v", err)
	}
}

func TestIsolatedThreads(t *testing.T) {
	for _, tc := range []struct{ threads, jobs, want int }{{2, 2, 1}, {16, 3, 5}, {1, 4, 1}, {8, 1, 8}, {4, 0, 4}} {
		if got := IsolatedThreads(tc.threads, tc.jobs); got != tc.want {
			t.Errorf("IsolatedThreads(%d, %d) = %d, want %d", tc.threads, tc.jobs, got, tc.want)
		}
	}
}
