package pipeline

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"dmlrun/store"
)

// TestMain doubles as a helper process, as Go's os/exec tests do: with
// DMLRUN_TEST_HELPER=apply the test binary applies the standard experiment to the store in
// DMLRUN_TEST_STORE and exits, instead of running tests.
func TestMain(m *testing.M) {
	if os.Getenv("DMLRUN_TEST_HELPER") == "apply" {
		os.Exit(helperApply())
	}
	os.Exit(m.Run())
}

func helperApply() int {
	if os.Getenv("DMLRUN_TEST_GATE") == "stdin" {
		// Start together with the other helpers: the test closes our stdin to let us go.
		_, _ = io.Copy(io.Discard, os.Stdin)
	}
	st, err := store.Open(os.Getenv("DMLRUN_TEST_STORE"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	g, err := Build(testStages, experiment(1e-5), BuildOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	p, err := MakePlan(g, st, "exp", "exp", nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ex := &Executor{Store: st, Experiment: "exp", Jobs: 2, Events: os.Stderr}
	if _, err := ex.Apply(context.Background(), g, p); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func helperCmd(t *testing.T, storeDir string, extraEnv ...string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "DMLRUN_TEST_HELPER=apply", "DMLRUN_TEST_STORE="+storeDir)
	cmd.Env = append(cmd.Env, extraEnv...)
	return cmd
}

func TestKilledNodeLeavesNoArtifact(t *testing.T) {
	for _, addr := range []string{"ttrain.a[seed=0]", "tload.data"} { // resumable, then not
		t.Run(addr, func(t *testing.T) {
			e := newEnv(t)
			// The helper blocks inside the node once it has written a partial file and
			// written its output directory to DMLRUN_TEST_STARTED, here a pipe: reading
			// it waits for exactly that moment.
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd := helperCmd(t, e.st.Dir(), "DMLRUN_TEST_BLOCK="+addr, "DMLRUN_TEST_STARTED=/dev/fd/3")
			cmd.ExtraFiles = []*os.File{w}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			w.Close()
			// One read returns as soon as the helper has written; 0 bytes means it ended.
			got, _ := r.Read(make([]byte, 4096))
			r.Close()
			if got == 0 {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("helper never reached %s; stderr:\n%s", addr, stderr.String())
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()

			g := e.build(experiment(1e-5))
			n := g.Node(addr)
			if _, err := e.st.Get(n.Key); !store.IsMiss(err) {
				t.Fatalf("killed node has an artifact: %v", err)
			}
			p := e.plan(g)
			wantAction := Create
			if n.Def.Resumable {
				wantAction = Resume
			}
			for _, pn := range p.Nodes {
				if pn.Addr == addr && pn.Action != wantAction {
					t.Errorf("plan after kill: %s %s (%s), want %s", addr, pn.Action, pn.Reason, wantAction)
				}
			}
			e.runs()
			res, err := e.executor().Apply(context.Background(), g, p)
			if err != nil {
				t.Fatalf("apply after kill: %v", err)
			}
			for _, r := range res.Nodes {
				if r.Addr == addr && r.Resumed != n.Def.Resumable {
					t.Errorf("resumed = %v, want %v", r.Resumed, n.Def.Resumable)
				}
			}
			art, err := e.st.Get(n.Key)
			if err != nil {
				t.Fatal(err)
			}
			_, err = os.Stat(filepath.Join(art.Dir, "epoch-1.txt"))
			if n.Def.Resumable != (err == nil) {
				t.Errorf("epoch-1.txt from the killed run present = %v, want %v", err == nil, n.Def.Resumable)
			}
			if c := e.plan(g).Changes(); c != 0 {
				t.Errorf("%d changes after completing", c)
			}
		})
	}
}

func TestConcurrentAppliesComputeOnce(t *testing.T) {
	e := newEnv(t)
	// Three processes apply the same experiment at once. To make them contend for the same
	// key every time (not only when the scheduler happens to overlap them), the test holds
	// the first node's lock until every helper has said it is waiting for it.
	g := e.build(experiment(1e-5))
	unlock, err := e.st.TryLock(g.Node("tload.data").Key)
	if err != nil {
		t.Fatal(err)
	}
	var cmds []*exec.Cmd
	var outs []*lineWatcher
	var gates []io.Closer
	for range 3 {
		cmd := helperCmd(t, e.st.Dir(), "DMLRUN_TEST_GATE=stdin")
		out := newLineWatcher("tload.data: waiting: key")
		cmd.Stderr = out
		gate, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs, gates = append(cmds, cmd), append(outs, out), append(gates, gate)
	}
	for _, g := range gates {
		g.Close()
	}
	for _, o := range outs {
		<-o.seen
	}
	unlock()
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("helper %d: %v\n%s", i, err, outs[i])
		}
	}
	count := map[string]int{}
	for _, a := range e.runs() {
		count[a]++
	}
	for _, addr := range []string{"tload.data", "ttrain.a[seed=0]", "ttrain.a[seed=1]", "teval.e"} {
		if count[addr] != 1 {
			t.Errorf("%s computed %d times, want 1 (all runs: %v)", addr, count[addr], count)
		}
	}
}

// lineWatcher is a process's stderr: it keeps everything written and closes seen once
// the output contains want.
type lineWatcher struct {
	syncBuffer
}

func newLineWatcher(want string) *lineWatcher {
	return &lineWatcher{syncBuffer{notify: want, seen: make(chan struct{})}}
}
