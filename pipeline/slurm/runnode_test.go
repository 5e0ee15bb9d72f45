package slurm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"

	"dmlrun/pipeline"
	"dmlrun/store"
)

// lineWaiter is a log writer that closes seen when a line containing want is written.
type lineWaiter struct {
	mu   sync.Mutex
	buf  strings.Builder
	want string
	seen chan struct{}
}

func (w *lineWaiter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if w.want != "" && strings.Contains(w.buf.String(), w.want) {
		w.want = ""
		close(w.seen)
	}
	return len(p), nil
}

func (w *lineWaiter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// nodeRunEnv freezes addr of the standard graph, with its inputs computed, into a job file.
type nodeRunEnv struct {
	*testEnv
	jobFile string
	env     map[string]string
	sigs    chan os.Signal
	log     *lineWaiter
}

func newNodeRunEnv(t *testing.T, addr string) *nodeRunEnv {
	e := newTestEnv(t, 1)
	n := e.g.Node(addr)
	var inputs []string
	for _, in := range n.Inputs {
		inputs = append(inputs, in.From.Addr)
	}
	if len(inputs) > 0 {
		p, _ := pipeline.MakePlan(e.g, e.st, e.exp, "t", inputs)
		if _, err := (&pipeline.Executor{Store: e.st, Jobs: 1}).Apply(context.Background(), e.g, p); err != nil {
			t.Fatal(err)
		}
	}
	takeRuns()
	j, err := e.g.Job(n, pipeline.JobOptions{Experiment: e.exp, Device: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pipeline.EncodeJob(j)
	file := filepath.Join(t.TempDir(), "0.json")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return &nodeRunEnv{testEnv: e, jobFile: file, env: map[string]string{"SLURM_JOB_ID": "77", "SLURM_CPUS_PER_TASK": "3"},
		sigs: make(chan os.Signal, 1), log: &lineWaiter{seen: make(chan struct{})}}
}

func (e *nodeRunEnv) run() (*Outcome, error) {
	nr := &NodeRun{Executor: &pipeline.Executor{Store: e.st, Provenance: store.Provenance{DmlrunVersion: "test"}}, Stages: e.reg,
		JobFile: e.jobFile, Commands: &Commands{}, Signals: e.sigs, Getenv: func(k string) string { return e.env[k] }, Log: e.log}
	err := nr.Run(context.Background())
	return ReadOutcome(OutcomeFile(e.jobFile)), err
}

// The pre-limit signal stops a resumable stage after its checkpoint; the job requeues
// itself and the next start resumes to the same artifact an uninterrupted run makes.
func TestNodeRunRequeuesAtThePreLimitSignal(t *testing.T) {
	e := newNodeRunEnv(t, "ftrain.t[seed=0]")
	key := e.g.Node("ftrain.t[seed=0]").Key
	preemptNext = func() { e.sigs <- syscall.SIGUSR1 }
	out, err := e.run()
	preemptNext = nil
	if !errors.Is(err, ErrRequeued) {
		t.Fatalf("Run: %v, want ErrRequeued\n%s", err, e.log)
	}
	if out == nil || out.Status != OutcomeRequeued || out.JobID != "77" || out.Key != key {
		t.Errorf("outcome %+v, want requeued for job 77", out)
	}
	if rq := e.c.callsOf("scontrol"); !reflect.DeepEqual(rq, [][]string{{"update", "jobid=77", "requeue=1"}, {"requeue", "77"}}) {
		t.Errorf("scontrol calls %q", rq)
	}
	if _, err := os.Stat(filepath.Join(e.st.PartialDir(key), "epoch-0.txt")); err != nil {
		t.Errorf("the checkpoint was not kept: %v", err)
	}
	if !strings.Contains(e.log.String(), "the time limit is near: stopping ftrain.t[seed=0] at a step boundary") {
		t.Errorf("log:\n%s", e.log)
	}
	e.env["SLURM_RESTART_COUNT"] = "1"
	out, err = e.run()
	if err != nil || out.Status != OutcomeComputed || !out.Resumed {
		t.Fatalf("the restarted job: %v, %+v; want computed, resumed", err, out)
	}
	art, err := e.st.Get(key)
	if err != nil {
		t.Fatal(err)
	}
	if art.Manifest.Provenance.Threads != 3 {
		t.Errorf("threads %d, want $SLURM_CPUS_PER_TASK (3)", art.Manifest.Provenance.Threads)
	}
	b, _ := os.ReadFile(filepath.Join(art.Dir, "model.txt"))
	if string(b) != "model(3, seed 0)" {
		t.Errorf("model.txt %q", b)
	}
}

func TestNodeRunSignals(t *testing.T) {
	t.Run("limit before a new checkpoint", func(t *testing.T) {
		e := newNodeRunEnv(t, "ftrain.t[seed=0]")
		preemptEarly = func() { e.sigs <- syscall.SIGUSR1 }
		defer func() { preemptEarly = nil }()
		out, err := e.run()
		if err == nil || !strings.Contains(err.Error(), "raise the time limit of stage ftrain") || out.Status != OutcomeFailed {
			t.Fatalf("Run: %v, %+v; want a failure asking for a longer time limit", err, out)
		}
		if len(e.c.callsOf("scontrol")) != 0 {
			t.Errorf("requeued a job that made no progress")
		}
	})
	t.Run("requeue refused", func(t *testing.T) {
		e := newNodeRunEnv(t, "ftrain.t[seed=0]")
		e.c.fail("scontrol", 1, "Requested operation is presently disabled for job 77")
		preemptNext = func() { e.sigs <- syscall.SIGUSR1 }
		defer func() { preemptNext = nil }()
		out, err := e.run()
		if err == nil || out.Status != OutcomeStopped || !strings.Contains(out.Error, "presently disabled") {
			t.Fatalf("Run: %v, %+v; want stopped with scontrol's message", err, out)
		}
	})
	t.Run("not in a job", func(t *testing.T) {
		e := newNodeRunEnv(t, "ftrain.t[seed=0]")
		delete(e.env, "SLURM_JOB_ID")
		preemptNext = func() { e.sigs <- syscall.SIGUSR1 }
		defer func() { preemptNext = nil }()
		if out, err := e.run(); err == nil || out.Status != OutcomeStopped {
			t.Fatalf("Run: %v, %+v; want stopped", err, out)
		}
	})
	t.Run("limit on a stage that cannot resume", func(t *testing.T) {
		e := newNodeRunEnv(t, "fsrc.d")
		e.log.want = "cannot resume from a checkpoint: letting it run"
		srcSignal = func() { e.sigs <- syscall.SIGUSR1; <-e.log.seen }
		defer func() { srcSignal = nil }()
		if out, err := e.run(); err != nil || out.Status != OutcomeComputed {
			t.Fatalf("Run: %v, %+v; want computed\n%s", err, out, e.log)
		}
	})
	t.Run("SIGTERM", func(t *testing.T) {
		e := newNodeRunEnv(t, "ftrain.t[seed=0]")
		preemptNext = func() { e.sigs <- syscall.SIGTERM }
		defer func() { preemptNext = nil }()
		out, err := e.run()
		if !errors.Is(err, context.Canceled) || out.Status != OutcomeFailed || !strings.Contains(out.Error, "stopped by a signal") || out.Permanent {
			t.Fatalf("Run: %v, %+v; want a retriable failure", err, out)
		}
		if !e.st.HasPartial(e.g.Node("ftrain.t[seed=0]").Key) {
			t.Errorf("SIGTERM lost the checkpoint")
		}
	})
}

func TestNodeRunOutcomes(t *testing.T) {
	cases := []struct {
		name      string
		edit      func(e *nodeRunEnv)
		status    string
		permanent bool
		want      string
	}{
		{"computed", func(*nodeRunEnv) {}, OutcomeComputed, false, ""},
		{"cached", func(e *nodeRunEnv) {
			if _, err := e.run(); err != nil {
				t.Fatal(err)
			}
		}, OutcomeCached, false, ""},
		{"stage fails", func(*nodeRunEnv) { failNext("ftrain.t[seed=0]", 1) }, OutcomeFailed, false, "injected failure"},
		{"no job file", func(e *nodeRunEnv) { os.Remove(e.jobFile) }, OutcomeFailed, true, "read the job file"},
		{"job file edited", func(e *nodeRunEnv) {
			b, _ := os.ReadFile(e.jobFile)
			os.WriteFile(e.jobFile, []byte(strings.Replace(string(b), `"seed": 0`, `"seed": 5`, 1)), 0o644)
		}, OutcomeFailed, true, "key material hashes to"},
		{"input gone", func(e *nodeRunEnv) {
			k := e.g.Node("fsrc.d").Key
			unlock, _ := e.st.TryLock(k)
			e.st.Remove(k)
			unlock()
		}, OutcomeFailed, false, "input fsrc.d"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newNodeRunEnv(t, "ftrain.t[seed=0]")
			c.edit(e)
			out, err := e.run()
			if out == nil {
				t.Fatalf("no outcome; Run: %v", err)
			}
			if out.Status != c.status || out.Permanent != c.permanent || !strings.Contains(out.Error, c.want) || (err == nil) != (c.want == "") {
				t.Errorf("Run: %v, outcome %+v; want %s (permanent %v) with %q", err, out, c.status, c.permanent, c.want)
			}
			if c.want != "" && strings.Contains(out.Error, "(log: ") {
				t.Errorf("the outcome's error repeats the log path: %s", out.Error)
			}
		})
	}
}
