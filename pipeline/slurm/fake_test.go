package slurm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"dmlrun/pipeline"
	"dmlrun/stage"
	"dmlrun/store"
)

// The fake cluster: shell scripts named sbatch, squeue, sacct, scancel, scontrol and sinfo
// in a t.TempDir() put first on PATH, so that the executor's real os/exec code runs. Every
// call is appended to a calls file (arguments separated by \x1f). The scripts print what
// the test wrote: sbatch prints the next job id, squeue the lines of the queue file whose
// job name it was asked about, sacct the sacct file, sinfo the sinfo file; a <name>.rc file
// makes a command fail with that status (and <name>.err on stderr). The test moves jobs
// through their states between two polls (the executor's Sleep), running the nodes
// in-process with NodeRun, as a job would.

var fakeScripts = map[string]string{
	"sbatch": `n=$(cat "$FAKE/next" 2>/dev/null || echo 100); echo $((n+1)) > "$FAKE/next"
{ printf '%s' "$n"; for a in "$@"; do printf '\037%s' "$a"; done; printf '\n'; } >> "$FAKE/submitted"
echo "$n;fakecluster"`,
	"squeue": `names=""
for a in "$@"; do case "$a" in --name=*) names="${a#--name=}";; esac; done
[ -f "$FAKE/queue" ] || exit 0
awk -F'|' -v names=",$names," 'index(names, "," $6 ",") { print $1 "|" $2 "|" $3 "|" $4 "|" $5 }' "$FAKE/queue"`,
	"sacct":    `cat "$FAKE/sacct" 2>/dev/null; true`,
	"scancel":  `true`,
	"scontrol": `true`,
	"sinfo":    `cat "$FAKE/sinfo" 2>/dev/null; true`,
}

type fakeCluster struct {
	t       *testing.T
	dir     string
	st      *store.Store
	reg     *stage.Registry
	jobs    []*fakeJob
	calls   int // sbatch calls already turned into jobs
	cancels int // scancel calls already carried out
	// behave decides, for a job about to run, what happens (default: fakeRun). attempt
	// counts the node's jobs, from 1.
	behave func(j *fakeJob, attempt int) fakeAction
	sleeps []time.Duration
	// onSleep runs at every Sleep, after the cluster moved (tests that interrupt).
	onSleep func(n int) error
	mu      sync.Mutex
}

type fakeAction int

const (
	fakeRun     fakeAction = iota // run the node, COMPLETED or FAILED by its result
	fakeHold                      // stay pending
	fakeVanish                    // disappear from squeue without running (sacct: FAILED)
	fakeCancel                    // end CANCELLED without running
	fakeKillMid                   // start, then end FAILED without an outcome (killed)
	fakePreempt                   // run with the pre-limit signal arriving mid-way
)

type fakeJob struct {
	id        JobID
	raw, name string
	args      []string
	dir       string
	task      int
	addr      string
	state     string
	host      string
	vanished  bool
	polls     int
	attempt   int
	requeued  int
}

func newFakeCluster(t *testing.T, st *store.Store, reg *stage.Registry) *fakeCluster {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range fakeScripts {
		script := fmt.Sprintf("#!/bin/sh\n{ printf '%%s' %s; for a in \"$@\"; do printf '\\037%%s' \"$a\"; done; printf '\\n'; } >> \"$FAKE/calls\"\n"+
			"if [ -f \"$FAKE/%s.rc\" ]; then cat \"$FAKE/%s.err\" >&2 2>/dev/null; exit $(cat \"$FAKE/%s.rc\"); fi\n%s\n", name, name, name, name, body)
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("FAKE", dir)
	c := &fakeCluster{t: t, dir: dir, st: st, reg: reg}
	c.write("sinfo", "n1\nn2\n")
	return c
}

func (c *fakeCluster) write(name, content string) {
	c.t.Helper()
	if err := os.WriteFile(filepath.Join(c.dir, name), []byte(content), 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// fail makes a command fail with status rc and message on stderr; rc 0 undoes it.
func (c *fakeCluster) fail(name string, rc int, message string) {
	if rc == 0 {
		os.Remove(filepath.Join(c.dir, name+".rc"))
		return
	}
	c.write(name+".rc", strconv.Itoa(rc))
	c.write(name+".err", message)
}

// calls returns the calls of one command so far, each as its arguments.
func (c *fakeCluster) callsOf(name string) [][]string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "calls"))
	var out [][]string
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		f := strings.Split(line, "\x1f")
		if f[0] == name {
			out = append(out, f[1:])
		}
	}
	return out
}

func argValue(args []string, flag string) (string, bool) {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v, true
		}
	}
	return "", false
}

// sync turns new sbatch calls into jobs (one per array task), as Slurm would.
func (c *fakeCluster) sync() {
	b, _ := os.ReadFile(filepath.Join(c.dir, "submitted"))
	var calls [][]string
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if line != "" {
			calls = append(calls, strings.Split(line, "\x1f"))
		}
	}
	for i := c.calls; i < len(calls); i++ {
		raw, args := calls[i][0], calls[i][1:]
		name, _ := argValue(args, "--job-name")
		dir := filepath.Dir(args[len(args)-1])
		n := 1
		if spec, ok := argValue(args, "--array"); ok {
			spec, _, _ = strings.Cut(spec, "%")
			last, _ := strconv.Atoi(strings.TrimPrefix(spec, "0-"))
			n = last + 1
		}
		for task := range n {
			id := JobID(raw)
			if _, array := argValue(args, "--array"); array {
				id = ArrayTask(JobID(raw), task)
			}
			b, err := os.ReadFile(jobFile(dir, task))
			if err != nil {
				c.t.Fatalf("job %s: %v", id, err)
			}
			j, err := pipeline.DecodeJob(b)
			if err != nil {
				c.t.Fatal(err)
			}
			attempt := 1
			for _, o := range c.jobs {
				if o.addr == j.Addr && o.name == name {
					attempt++
				}
			}
			c.jobs = append(c.jobs, &fakeJob{id: id, raw: raw, name: name, args: args, dir: dir, task: task, addr: j.Addr, state: "PENDING", attempt: attempt})
		}
	}
	c.calls = len(calls)
	cancels := c.callsOf("scancel")
	for _, args := range cancels[c.cancels:] {
		name, _ := argValue(args, "--name")
		state, _ := argValue(args, "--state")
		for _, j := range c.jobs {
			if j.name == name && !Terminal(j.state) && (state == "" || j.state == state) {
				j.state = "CANCELLED"
			}
		}
	}
	c.cancels = len(cancels)
}

func (c *fakeCluster) job(addr string, attempt int) *fakeJob {
	for _, j := range c.jobs {
		if j.addr == addr && j.attempt == attempt {
			return j
		}
	}
	return nil
}

// step moves every job one state on: PENDING -> RUNNING (on n1) -> ended, doing what
// behave says on the way.
func (c *fakeCluster) step() {
	c.sync()
	for i, j := range c.jobs {
		if Terminal(j.state) || j.vanished {
			continue
		}
		act := fakeRun
		if c.behave != nil {
			act = c.behave(j, j.attempt)
		}
		j.polls++
		switch {
		case act == fakeHold:
		case act == fakeVanish:
			j.vanished = true
			c.write("sacct", fmt.Sprintf("%s|FAILED|1:0|n1\n", j.raw))
		case act == fakeCancel:
			j.state = "CANCELLED"
		case j.state == "PENDING":
			j.state, j.host = "RUNNING", "n1"
			if j.raw != "" && strings.Contains(string(j.id), "_") {
				j.raw = strconv.Itoa(1000 + i) // a started array task has its own id
			}
		case act == fakeKillMid:
			j.state = "FAILED"
		default:
			j.state = c.runNode(j, act == fakePreempt)
		}
	}
	c.writeQueue()
}

func (c *fakeCluster) writeQueue() {
	var b strings.Builder
	for _, j := range c.jobs {
		if j.vanished {
			continue
		}
		fmt.Fprintf(&b, "%s|%s|%s|%s|%s|%s\n", j.id, j.raw, j.state, "None", j.host, j.name)
	}
	c.write("queue", b.String())
}

// runNode runs a job's node as `dmlrun run-node` would, and returns the job's end state.
func (c *fakeCluster) runNode(j *fakeJob, preempt bool) string {
	sigs := make(chan os.Signal, 1)
	env := map[string]string{"SLURM_JOB_ID": j.raw}
	// The job's output, as sbatch --output --open-mode=append makes it: run-node's lines
	// and the stage's log.
	out, err := os.OpenFile(outFile(j.dir, j.task), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	defer out.Close()
	nr := &NodeRun{
		Executor: &pipeline.Executor{Store: c.st, Provenance: store.Provenance{DmlrunVersion: "test"},
			LogEcho: func(string) io.Writer { return out }},
		Stages: c.reg, JobFile: jobFile(j.dir, j.task), Commands: &Commands{}, Signals: sigs, Log: out,
		Getenv: func(k string) string { return env[k] },
	}
	if preempt {
		preemptNext = func() { sigs <- syscall.SIGUSR1 }
	}
	err = nr.Run(context.Background())
	preemptNext = nil
	switch {
	case errors.Is(err, ErrRequeued):
		j.requeued++
		return "PENDING"
	case err != nil:
		return "FAILED"
	}
	return "COMPLETED"
}

// sleeper is the executor's Sleep: it records the interval and moves the cluster.
func (c *fakeCluster) sleeper(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	n := len(c.sleeps)
	c.mu.Unlock()
	c.step()
	if c.onSleep != nil {
		if err := c.onSleep(n); err != nil {
			return err
		}
	}
	if len(c.sleeps) > 500 {
		c.t.Fatal("the run does not end")
	}
	return ctx.Err()
}

// The test stages: fsrc makes data; ftrain (resumable, as train) reads it, and can be
// preempted mid-way; feval reads trainings. Each run appends "<addr>\n" to runs.
var (
	failMu       sync.Mutex
	failNodes    = map[string]int{} // addr -> how many more runs fail
	runsMu       sync.Mutex
	runs         []string
	preemptNext  func() // called by ftrain between its two epochs when set
	preemptEarly func() // called by ftrain before its first checkpoint when set
	// srcSignal is called by fsrc (which cannot resume) mid-way when set; it returns when
	// the run may go on.
	srcSignal func()
)

func failNext(addr string, times int) {
	failMu.Lock()
	defer failMu.Unlock()
	failNodes[addr] = times
}

func ran(c *stage.Context) error {
	runsMu.Lock()
	runs = append(runs, c.Addr)
	runsMu.Unlock()
	failMu.Lock()
	defer failMu.Unlock()
	if failNodes[c.Addr] > 0 {
		failNodes[c.Addr]--
		fmt.Fprintln(c.Log, "injected failure")
		return errors.New("injected failure")
	}
	return nil
}

func takeRuns() []string {
	runsMu.Lock()
	defer runsMu.Unlock()
	out := runs
	runs = nil
	sort.Strings(out)
	return out
}

func testRegistry(t *testing.T) *stage.Registry {
	write := func(c *stage.Context, name, text string) error {
		return os.WriteFile(filepath.Join(c.OutDir, name), []byte(text), 0o644)
	}
	reg, err := stage.NewRegistry(
		&stage.Def{Kind: "fsrc", Version: 1, Params: []stage.Param{{Name: "n", Type: stage.Int, Default: int64(3)}},
			Run: func(c *stage.Context) error {
				if err := ran(c); err != nil {
					return err
				}
				if srcSignal != nil {
					srcSignal()
				}
				if err := c.Err(); err != nil {
					return err
				}
				return write(c, "data.txt", fmt.Sprint(c.Params.Int("n")))
			}},
		&stage.Def{Kind: "ftrain", Version: 1, Resumable: true, Params: []stage.Param{
			{Name: "dataset", Type: stage.Ref, RefKind: "fsrc"}, {Name: "seed", Type: stage.Int, Default: int64(0)}},
			Run: func(c *stage.Context) error {
				if err := ran(c); err != nil {
					return err
				}
				// Two "epochs": the first writes a checkpoint unless one is there (resumed).
				ckpt := filepath.Join(c.OutDir, "epoch-0.txt")
				if _, err := os.Stat(ckpt); err != nil {
					if preemptEarly != nil {
						preemptEarly()
						<-c.Done()
						return c.Err()
					}
					if err := write(c, "epoch-0.txt", "half"); err != nil {
						return err
					}
					if preemptNext != nil {
						preemptNext()
						<-c.Done()
						return c.Err()
					}
				}
				data, err := os.ReadFile(filepath.Join(c.InputsOf("dataset")[0].Dir, "data.txt"))
				if err != nil {
					return err
				}
				if err := os.Remove(ckpt); err != nil {
					return err
				}
				return write(c, "model.txt", fmt.Sprintf("model(%s, seed %d)", data, c.Params.Int("seed")))
			}},
		&stage.Def{Kind: "feval", Version: 1, Params: []stage.Param{{Name: "models", Type: stage.RefList, RefKind: "ftrain"}},
			Run: func(c *stage.Context) error {
				if err := ran(c); err != nil {
					return err
				}
				var rows []string
				for _, in := range c.InputsOf("models") {
					b, err := os.ReadFile(filepath.Join(in.Dir, "model.txt"))
					if err != nil {
						return err
					}
					rows = append(rows, string(b))
				}
				return write(c, "metrics.txt", strings.Join(rows, "\n"))
			}},
	)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// testGraph: fsrc.d, ftrain.t over seeds, feval.e over every training.
func testGraph(t *testing.T, reg *stage.Registry, seeds int) *pipeline.Graph {
	t.Helper()
	decls := []pipeline.Decl{{Addr: "fsrc.d", Params: stage.Params{"n": int64(3)}}}
	var models []pipeline.DeclRef
	for s := range seeds {
		addr := fmt.Sprintf("ftrain.t[seed=%d]", s)
		decls = append(decls, pipeline.Decl{Addr: addr, Params: stage.Params{"seed": int64(s)},
			Inputs: []pipeline.DeclRef{{Param: "dataset", Target: "fsrc.d"}}})
		models = append(models, pipeline.DeclRef{Param: "models", Target: addr})
	}
	decls = append(decls, pipeline.Decl{Addr: "feval.e", Params: stage.Params{}, Inputs: models})
	g, err := pipeline.Build(reg, decls, pipeline.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

type testEnv struct {
	t    *testing.T
	st   *store.Store
	reg  *stage.Registry
	c    *fakeCluster
	g    *pipeline.Graph
	exp  string
	evts *strings.Builder
}

func newTestEnv(t *testing.T, seeds int) *testEnv {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	reg := testRegistry(t)
	takeRuns()
	return &testEnv{t: t, st: st, reg: reg, c: newFakeCluster(t, st, reg), g: testGraph(t, reg, seeds), exp: "/exp/test.hcl", evts: &strings.Builder{}}
}

func (e *testEnv) settings() *Settings {
	s := Defaults()
	s.Poll, s.PollMax = time.Second, 8*time.Second
	s.SignalLead = 2 * time.Minute
	s.ArrayLimit = 2
	s.Retries = 2
	s.Stages["ftrain"] = Resources{Time: time.Hour, GPUs: 1, CPUs: 4, Memory: "8G", Partition: "gpu"}
	return s
}

func (e *testEnv) executor(s *Settings) *Executor {
	return &Executor{Store: e.st, Experiment: e.exp, Display: "test.hcl", Settings: s, Commands: &Commands{},
		Device: "cpu", Threads: 1, Events: e.evts, Sleep: e.c.sleeper, Executable: "/opt/dmlrun/bin/dmlrun"}
}

func (e *testEnv) plan() *pipeline.Plan {
	e.t.Helper()
	p, err := pipeline.MakePlan(e.g, e.st, e.exp, "test.hcl", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func statuses(res *pipeline.Result) map[string]pipeline.Status {
	m := map[string]pipeline.Status{}
	if res != nil {
		for _, n := range res.Nodes {
			m[n.Addr] = n.Status
		}
	}
	return m
}
