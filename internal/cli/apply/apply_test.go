package apply_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"

	"dmlrun/internal/cli/clitest"
	"dmlrun/internal/cli/root"
	"dmlrun/internal/iostreams"
)

// TestMain: this test binary doubles as a dmlrun child process (clitest.Helper).
func TestMain(m *testing.M) {
	clitest.MainIfHelper()
	os.Exit(m.Run())
}

func TestFlagErrorsShowUsage(t *testing.T) {
	clitest.Workdir(t)
	r := clitest.Run(t, "apply", "-j", "0", "exp.hcl")
	if r.Code != root.ExitError || !strings.Contains(r.ErrOut, "Error: -j 0: want at least 1") || !strings.Contains(r.ErrOut, "Usage:") {
		t.Errorf("exit %d, stderr:\n%s", r.Code, r.ErrOut)
	}
	r = clitest.Run(t, "apply", "missing.hcl")
	if r.Code != root.ExitError || strings.Contains(r.ErrOut, "Usage:") {
		t.Errorf("a non-flag error printed usage or wrong code %d:\n%s", r.Code, r.ErrOut)
	}
}

func TestApplyRerunsOnlyChanged(t *testing.T) {
	clitest.Workdir(t)
	clitest.NodeProcesses(t) // -j 3 below
	r := clitest.Run(t, "apply", "exp.hcl")
	if r.Code != root.ExitOK {
		t.Fatalf("apply: %d\n%s", r.Code, r.ErrOut)
	}
	if got := clitest.TakeRuns(); len(got) != 5 {
		t.Errorf("first apply ran %v", got)
	}
	if !strings.Contains(r.Out, "Apply: 5 computed, 0 cached, 0 failed, 0 not started.") {
		t.Errorf("summary: %s", r.Out)
	}
	if !strings.Contains(r.ErrOut, "train.a[seed=0] epoch 2/2 loss 0.5") {
		t.Errorf("no plain progress line in stderr:\n%s", r.ErrOut)
	}
	r = clitest.Run(t, "apply", "exp.yaml") // same keys: nothing to do
	if got := clitest.TakeRuns(); len(got) != 0 || !strings.Contains(r.Out, "Nothing to do") {
		t.Errorf("apply of the YAML twin ran %v\n%s", got, r.Out)
	}
	r = clitest.Run(t, "apply", "-j", "3", "-var", "lr=2e-5", "exp.hcl")
	if r.Code != root.ExitOK {
		t.Fatalf("apply: %d\n%s", r.Code, r.ErrOut)
	}
	got := clitest.TakeRuns()
	sort.Strings(got)
	want := []string{"evaluate.test[train.a[seed=0]]", "evaluate.test[train.a[seed=1]]", "train.a[seed=0]", "train.a[seed=1]"}
	if !slices.Equal(got, want) {
		t.Errorf("ran %v, want %v (not the dataset)", got, want)
	}
}

func TestTerminalProgressBars(t *testing.T) {
	clitest.Workdir(t)
	ios, _, _, errOut := iostreams.Test()
	ios.SetStderrTTY(true)
	f := clitest.NewFactory(ios)
	f.LookupEnv = func(string) (string, bool) { return "", false }
	if code := root.Run(context.Background(), f, []string{"apply", "exp.hcl"}); code != root.ExitOK {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	// pb draws "<prefix> 2 / 2 [...] 100.00%"; no plain progress lines on a terminal.
	if !strings.Contains(errOut.String(), "train.a[seed=0] epoch 2 / 2") {
		t.Errorf("no bar in stderr:\n%q", errOut.String())
	}
	if strings.Contains(errOut.String(), "train.a[seed=0] epoch 2/2") {
		t.Errorf("plain progress line on a terminal:\n%s", errOut.String())
	}
}

func TestInterruptKeepsFinishedAndResumes(t *testing.T) {
	clitest.Workdir(t)
	// The helper's train stage writes the StartedEnv file (here a pipe) once it is inside
	// its epoch loop; one read returns at that moment (0 bytes: the helper ended first).
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := clitest.Helper(t, "apply exp.hcl", clitest.StartedEnv+"=/dev/fd/3")
	cmd.ExtraFiles = []*os.File{pw}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if _, err := pr.Read(make([]byte, 1)); err != nil {
		cmd.Wait()
		t.Fatalf("train never started (%v); stderr:\n%s", err, stderr.String())
	}
	pr.Close()
	cmd.Process.Signal(syscall.SIGINT)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != int(root.ExitError) {
		t.Fatalf("exit: %v, want code 1\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "Interrupted:") || !strings.Contains(stderr.String(), "train.a[seed=0]") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
	// The dataset finished before the interrupt and stays; train resumes from its checkpoint.
	p := clitest.PlanJSON(t, "exp.hcl")
	got := map[string]string{}
	for _, n := range p.Nodes {
		got[n.Addr] = string(n.Action)
	}
	if got["dataset.toy"] != "cached" || got["train.a[seed=0]"] != "resume" {
		t.Errorf("plan after interrupt: %v", got)
	}
	r := clitest.Run(t, "apply", "exp.hcl")
	if r.Code != root.ExitOK {
		t.Fatalf("apply after interrupt: %d\n%s", r.Code, r.ErrOut)
	}
	key := clitest.Keys(p)["train.a[seed=0]"]
	b, err := os.ReadFile(filepath.Join("results", key[:2], key, "log.txt"))
	if err != nil || !strings.Contains(string(b), "resumed") {
		t.Errorf("train log %q, %v: want the resumed run's line", b, err)
	}
	if _, err := os.Stat(filepath.Join("results", key[:2], key, "epoch-1.ckpt")); err != nil {
		t.Errorf("checkpoint of the interrupted run not carried over: %v", err)
	}
}

// An apply killed in the middle of a commit leaves its temporary directory; the next apply
// takes that key's lock and removes it, and nothing else is left.
func TestKilledCommitLeftoverRemovedByNextApply(t *testing.T) {
	clitest.Workdir(t)
	clitest.ApplyKilledAt(t, "store.commit.hashed")
	ds := clitest.Keys(clitest.PlanJSON(t, "exp.hcl"))["dataset.toy"]
	if left := dirNames(t, filepath.Join("results", "tmp")); len(left) != 1 || !strings.HasPrefix(left[0], ds+".") {
		t.Fatalf("tmp/ after the kill: %v, want the dataset's temporary directory", left)
	}
	if r := clitest.Run(t, "apply", "exp.hcl"); r.Code != root.ExitOK {
		t.Fatalf("apply: %s", r.ErrOut)
	}
	if left := dirNames(t, filepath.Join("results", "tmp")); len(left) != 0 {
		t.Errorf("tmp/ after the next apply: %v", left)
	}
	if r := clitest.Run(t, "cache", "verify"); r.Code != root.ExitOK || !strings.Contains(r.Out, "5 artifact(s) verified") {
		t.Errorf("verify: %s%s", r.Out, r.ErrOut)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestApplyJobsRunsNodeProcesses: with -j 2 each libtorch (Exclusive) node runs in a
// run-node process of its own with half the threads, which its manifest records with that
// process's pid; the other nodes run in the apply itself.
func TestApplyJobsRunsNodeProcesses(t *testing.T) {
	clitest.Workdir(t)
	clitest.NodeProcesses(t)
	r := clitest.Run(t, "apply", "-j", "2", "--threads", "4", "exp.hcl")
	if r.Code != root.ExitOK {
		t.Fatalf("apply: %d\n%s", r.Code, r.ErrOut)
	}
	if got := clitest.TakeRuns(); len(got) != 5 {
		t.Errorf("ran %v, want 5 nodes", got)
	}
	pids := map[int]string{}
	for _, addr := range []string{"dataset.toy", "train.a[seed=0]", "train.a[seed=1]"} {
		s := clitest.Run(t, "show", "exp.hcl", addr, "--json")
		var v struct {
			Manifest struct {
				Provenance struct {
					PID     int `json:"pid"`
					Threads int `json:"threads"`
				} `json:"provenance"`
			} `json:"manifest"`
		}
		if err := json.Unmarshal([]byte(s.Out), &v); err != nil {
			t.Fatalf("show %s: %v\n%s%s", addr, err, s.Out, s.ErrOut)
		}
		p := v.Manifest.Provenance
		wantThreads, inApply := 2, false
		if addr == "dataset.toy" {
			wantThreads, inApply = 4, true
		}
		if p.Threads != wantThreads || (p.PID == os.Getpid()) != inApply {
			t.Errorf("%s: threads %d, pid %d (the apply's: %d); want %d threads, in the apply's process: %v", addr, p.Threads, p.PID, os.Getpid(), wantThreads, inApply)
		}
		if prev, dup := pids[p.PID]; dup && !inApply {
			t.Errorf("%s and %s ran in one process (%d)", prev, addr, p.PID)
		}
		pids[p.PID] = addr
	}
	// The node processes' lines reach the apply's stderr whole.
	if !strings.Contains(r.ErrOut, "train.a[seed=1]: computed in") {
		t.Errorf("no event line of the node process in stderr:\n%s", r.ErrOut)
	}
}
