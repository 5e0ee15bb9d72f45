package slurm

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"dmlrun/pipeline"
	"dmlrun/store"
)

// Every node runs as a job, siblings as one array with its cap, each job with the options
// the executor promises; the results are the local executor's, one squeue call per poll,
// and the run's folder is gone at the end.
func TestApplyRunsEveryNodeAsAJob(t *testing.T) {
	e := newTestEnv(t, 3)
	res, err := e.executor(e.settings()).Apply(context.Background(), e.g, e.plan())
	if err != nil {
		t.Fatalf("%v\n%s", err, e.evts)
	}
	for addr, s := range statuses(res) {
		if s != pipeline.StatusComputed {
			t.Errorf("%s: %s, want computed", addr, s)
		}
	}
	if got := takeRuns(); len(got) != 5 {
		t.Errorf("stage runs %v, want each of the 5 nodes once", got)
	}

	subs := e.c.callsOf("sbatch")
	if len(subs) != 3 {
		t.Fatalf("%d sbatch calls, want 3 (fsrc, the ftrain array, feval): %q", len(subs), subs)
	}
	name, _ := argValue(subs[0], "--job-name")
	if !runNameRE.MatchString(name) || !strings.HasPrefix(name, "dmlrun-test-") {
		t.Errorf("job name %q, want dmlrun-test-<6 hex digits>", name)
	}
	cwd, _ := os.Getwd()
	for i, args := range subs {
		for _, want := range []string{"--parsable", "--job-name=" + name, "--no-requeue", "--signal=B:USR1@120", "--open-mode=append", "--chdir=" + cwd} {
			if !slices.Contains(args, want) {
				t.Errorf("sbatch call %d lacks %s: %q", i, want, args)
			}
		}
	}
	train := subs[1]
	for _, want := range []string{"--array=0-2%2", "--time=0-01:00:00", "--gres=gpu:1", "--cpus-per-task=4", "--mem=8G", "--partition=gpu",
		"--comment=ftrain.t[seed=0] ftrain.t[seed=1] ftrain.t[seed=2]"} {
		if !slices.Contains(train, want) {
			t.Errorf("the ftrain array lacks %s: %q", want, train)
		}
	}
	if out, _ := argValue(train, "--output"); !strings.HasSuffix(out, "/s2/%a.out") {
		t.Errorf("array output %q, want <run>/s2/%%a.out", out)
	}
	for _, args := range [][]string{subs[0], subs[2]} {
		for _, a := range args {
			if strings.HasPrefix(a, "--gres") || strings.HasPrefix(a, "--array") || strings.HasPrefix(a, "--time") {
				t.Errorf("a non-train single job has %s: %q", a, args)
			}
		}
	}
	if c, _ := argValue(subs[2], "--comment"); c != "feval.e" {
		t.Errorf("feval's comment %q, want its address", c)
	}
	script, err := os.ReadFile(subs[1][len(subs[1])-1])
	if err == nil {
		t.Errorf("the batch script outlived the run (its folder should be removed): %s", script)
	}
	if polls, sleeps := len(e.c.callsOf("squeue")), len(e.c.sleeps); polls != sleeps {
		t.Errorf("%d squeue calls for %d polls: want one per poll", polls, sleeps)
	}
	if len(e.c.callsOf("sacct")) != 0 {
		t.Errorf("sacct was called though no job vanished")
	}
	if _, err := os.Stat(runDir(e.st, name)); !os.IsNotExist(err) {
		t.Errorf("the run's folder is still there: %v", err)
	}

	// The local executor computes the same files under the same keys.
	local, err := store.Open(filepath.Join(t.TempDir(), "local"))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := pipeline.MakePlan(e.g, local, e.exp, "test.hcl", nil)
	if _, err := (&pipeline.Executor{Store: local, Jobs: 1}).Apply(context.Background(), e.g, p); err != nil {
		t.Fatal(err)
	}
	takeRuns()
	for _, n := range e.g.Nodes {
		a, err1 := local.Get(n.Key)
		b, err2 := e.st.Get(n.Key)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: %v, %v", n.Addr, err1, err2)
		}
		if !reflect.DeepEqual(a.Manifest.Files, b.Manifest.Files) {
			t.Errorf("%s: files through Slurm %v, locally %v", n.Addr, b.Manifest.Files, a.Manifest.Files)
		}
	}

	// A second apply finds everything in the store and submits nothing.
	before := len(e.c.callsOf("sbatch"))
	res, err = e.executor(e.settings()).Apply(context.Background(), e.g, e.plan())
	if err != nil {
		t.Fatal(err)
	}
	for addr, s := range statuses(res) {
		if s != pipeline.StatusCached {
			t.Errorf("second apply: %s: %s, want cached", addr, s)
		}
	}
	if n := len(e.c.callsOf("sbatch")) - before; n != 0 {
		t.Errorf("second apply submitted %d jobs", n)
	}
}

// MaxJobs bounds the nodes in flight: the seeds' array is split.
func TestApplyMaxJobs(t *testing.T) {
	e := newTestEnv(t, 5)
	s := e.settings()
	s.MaxJobs, s.ArrayLimit = 3, 0
	if _, err := e.executor(s).Apply(context.Background(), e.g, e.plan()); err != nil {
		t.Fatalf("%v\n%s", err, e.evts)
	}
	var arrays []string
	for _, args := range e.c.callsOf("sbatch") {
		if a, ok := argValue(args, "--array"); ok {
			arrays = append(arrays, a)
		}
	}
	if want := []string{"0-2", "0-1"}; !reflect.DeepEqual(arrays, want) {
		t.Errorf("arrays %q, want %q (3 in flight at most, no cap beyond max_jobs)", arrays, want)
	}
}

// The poll interval doubles while nothing changes, up to PollMax, and drops back when
// something does.
func TestApplyBacksOff(t *testing.T) {
	e := newTestEnv(t, 1)
	e.c.behave = func(j *fakeJob, attempt int) fakeAction {
		if j.addr == "fsrc.d" && j.polls < 7 {
			return fakeHold
		}
		return fakeRun
	}
	if _, err := e.executor(e.settings()).Apply(context.Background(), e.g, e.plan()); err != nil {
		t.Fatal(err)
	}
	s := time.Second
	want := []time.Duration{s, 2 * s, 4 * s, 8 * s, 8 * s, 8 * s, 8 * s, 8 * s, s}
	if got := e.c.sleeps; len(got) < len(want) || !reflect.DeepEqual(got[:len(want)], want) {
		t.Errorf("sleeps %v, want them to start %v", got, want)
	}
}

// A job that vanishes without committing its node failed: sacct is asked how (once, for
// every vanished job), the output is kept as the failed log, and the node is retried alone,
// excluding the host that failed it; a job killed mid-way likewise.
func TestApplyRetriesVanishedAndKilledJobsElsewhere(t *testing.T) {
	e := newTestEnv(t, 2)
	e.c.behave = func(j *fakeJob, attempt int) fakeAction {
		switch {
		case j.addr == "ftrain.t[seed=1]" && attempt == 1 && j.state == "RUNNING":
			return fakeVanish
		case j.addr == "feval.e" && attempt == 1 && j.state == "RUNNING":
			return fakeKillMid
		}
		return fakeRun
	}
	res, err := e.executor(e.settings()).Apply(context.Background(), e.g, e.plan())
	if err != nil {
		t.Fatalf("%v\n%s", err, e.evts)
	}
	for addr, s := range statuses(res) {
		if s != pipeline.StatusComputed {
			t.Errorf("%s: %s, want computed", addr, s)
		}
	}
	t.Logf("events:\n%s", e.evts)
	sacct := e.c.callsOf("sacct")
	if len(sacct) != 1 || !slices.Contains(sacct[0], "-j") {
		t.Errorf("sacct calls %q, want one for the vanished job", sacct)
	}
	var retries [][]string
	for _, args := range e.c.callsOf("sbatch") {
		if slices.Contains(args, "--exclude=n1") {
			retries = append(retries, args)
		}
	}
	if len(retries) != 2 {
		t.Fatalf("%d retries with --exclude=n1, want 2 (ftrain.t[seed=1], feval.e): %q", len(retries), e.c.callsOf("sbatch"))
	}
	for _, args := range retries {
		if _, ok := argValue(args, "--array"); ok {
			t.Errorf("a retry went as an array: %q", args)
		}
	}
	if c, _ := argValue(retries[0], "--comment"); c != "ftrain.t[seed=1]" {
		t.Errorf("first retry is for %q, want ftrain.t[seed=1]", c)
	}
	if !strings.Contains(e.evts.String(), "ftrain.t[seed=1]: Slurm job 101_1 VANISHED") && !strings.Contains(e.evts.String(), "ftrain.t[seed=1]: Slurm job 101_1 FAILED (exit code 1:0) on n1") {
		t.Errorf("events do not say how the vanished job ended:\n%s", e.evts)
	}
}

// On a one-node partition a retry cannot avoid the node that failed: no --exclude. After
// Retries, the node fails for good with its job's output as its log, its dependents do not
// start, and the run's pending jobs are cancelled.
func TestApplyGivesUpAfterRetries(t *testing.T) {
	e := newTestEnv(t, 2)
	e.c.write("sinfo", "n1\n")
	failNext("ftrain.t[seed=0]", 100)
	defer failNext("ftrain.t[seed=0]", 0)
	e.c.behave = func(j *fakeJob, attempt int) fakeAction {
		if j.addr == "ftrain.t[seed=1]" && j.polls < 20 {
			return fakeHold // stays pending: the stop cancels it
		}
		return fakeRun
	}
	res, err := e.executor(e.settings()).Apply(context.Background(), e.g, e.plan())
	t.Logf("events:\n%s", e.evts)
	var ne *pipeline.NodeError
	if !errors.As(err, &ne) || ne.Addr != "ftrain.t[seed=0]" {
		t.Fatalf("Apply: %v, want the NodeError of ftrain.t[seed=0]\n%s", err, e.evts)
	}
	want := map[string]pipeline.Status{"fsrc.d": pipeline.StatusComputed, "ftrain.t[seed=0]": pipeline.StatusFailed,
		"ftrain.t[seed=1]": pipeline.StatusSkipped, "feval.e": pipeline.StatusSkipped}
	if got := statuses(res); !reflect.DeepEqual(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	attempts := 0
	for _, args := range e.c.callsOf("sbatch") {
		if c, _ := argValue(args, "--comment"); strings.Contains(c, "ftrain.t[seed=0]") {
			attempts++
		}
		for _, a := range args {
			if strings.HasPrefix(a, "--exclude") {
				t.Errorf("a retry on a one-node partition excludes it: %q", args)
			}
		}
	}
	if attempts != 3 {
		t.Errorf("ftrain.t[seed=0] submitted %d times, want 3 (1 + 2 retries)", attempts)
	}
	if ne.Log == "" {
		t.Fatal("the failure names no log")
	}
	log, err := os.ReadFile(ne.Log)
	if err != nil || !strings.Contains(string(log), "injected failure") || !strings.Contains(string(log), "attempt 3") {
		t.Errorf("kept log %s: %v\n%s\nwant the job's output with the stage's failure", ne.Log, err, log)
	}
	if ne.Log != e.st.FailedLogPath(ne.Key) {
		t.Errorf("log %s, want the store's failed log %s", ne.Log, e.st.FailedLogPath(ne.Key))
	}
	cancels := e.c.callsOf("scancel")
	if len(cancels) != 1 || !slices.Contains(cancels[0], "--state=PENDING") {
		t.Errorf("scancel calls %q, want one for the run's pending jobs", cancels)
	}
}

// A job that Slurm would not requeue (scontrol refuses) ends "stopped": the head submits it
// again without counting a failure or excluding a host, and it resumes from its
// checkpoint. One that requeued itself is followed as the same job.
func TestApplyResubmitsStoppedAndFollowsRequeued(t *testing.T) {
	for _, refuse := range []bool{false, true} {
		name := "requeued"
		if refuse {
			name = "requeue refused"
		}
		t.Run(name, func(t *testing.T) {
			e := newTestEnv(t, 1)
			if refuse {
				e.c.fail("scontrol", 1, "Requested operation is presently disabled for job 101")
			}
			e.c.behave = func(j *fakeJob, attempt int) fakeAction {
				if j.addr == "ftrain.t[seed=0]" && attempt == 1 && j.requeued == 0 {
					return fakePreempt
				}
				return fakeRun
			}
			s := e.settings()
			s.Retries = 0 // a stop is not a failure
			res, err := e.executor(s).Apply(context.Background(), e.g, e.plan())
			if err != nil {
				t.Fatalf("%v\n%s", err, e.evts)
			}
			for addr, st := range statuses(res) {
				if st != pipeline.StatusComputed {
					t.Errorf("%s: %s", addr, st)
				}
			}
			n := 0
			for _, args := range e.c.callsOf("sbatch") {
				if c, _ := argValue(args, "--comment"); c == "ftrain.t[seed=0]" {
					n++
				}
			}
			want := 1
			if refuse {
				want = 2
			}
			if n != want {
				t.Errorf("ftrain submitted %d times, want %d\n%s", n, want, e.evts)
			}
			for _, r := range res.Nodes {
				if r.Addr == "ftrain.t[seed=0]" && !r.Resumed {
					t.Errorf("the training did not resume from its checkpoint")
				}
			}
			rq := e.c.callsOf("scontrol")
			if len(rq) == 0 || !reflect.DeepEqual(rq[0], []string{"update", "jobid=101", "requeue=1"}) {
				t.Errorf("scontrol calls %q, want update jobid=101 requeue=1 first", rq)
			}
			if !refuse && (len(rq) != 2 || !reflect.DeepEqual(rq[1], []string{"requeue", "101"})) {
				t.Errorf("scontrol calls %q, want requeue 101 second", rq)
			}
		})
	}
}

// Ctrl-C: Confirm decides; yes cancels the run's jobs by name, no leaves them running and
// recorded for plan.
func TestApplyInterrupted(t *testing.T) {
	for _, cancelJobs := range []bool{true, false} {
		t.Run(map[bool]string{true: "cancel", false: "leave running"}[cancelJobs], func(t *testing.T) {
			e := newTestEnv(t, 2)
			e.c.behave = func(j *fakeJob, attempt int) fakeAction {
				if j.addr != "fsrc.d" {
					return fakeHold
				}
				return fakeRun
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			e.c.onSleep = func(n int) error {
				if n == 4 {
					cancel()
				}
				return nil
			}
			asked := 0
			ex := e.executor(e.settings())
			ex.Confirm = func(jobs int) bool { asked = jobs; return cancelJobs }
			_, err := ex.Apply(ctx, e.g, e.plan())
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Apply: %v, want context.Canceled", err)
			}
			if asked != 2 {
				t.Errorf("Confirm asked about %d jobs, want 2 (the trainings)", asked)
			}
			cancels := e.c.callsOf("scancel")
			recs, _ := Records(e.st, e.exp)
			if cancelJobs {
				if len(cancels) != 1 || !strings.HasPrefix(cancels[0][0], "--name=dmlrun-test-") || len(cancels[0]) != 1 {
					t.Errorf("scancel calls %q, want one: --name=<run>", cancels)
				}
				if len(recs) != 0 {
					t.Errorf("a cancelled run is still live in the records: %+v", recs)
				}
				return
			}
			if len(cancels) != 0 {
				t.Errorf("scancel called %q though the jobs were to be left running", cancels)
			}
			jobs, _, err := Jobs(context.Background(), e.st, &Commands{}, e.exp)
			if err != nil {
				t.Fatal(err)
			}
			k := e.g.Node("ftrain.t[seed=1]").Key
			if j, ok := jobs[k]; !ok || j.State != "PENDING" || j.ID != "101_1" {
				t.Errorf("Jobs()[ftrain.t[seed=1]] = %+v, want pending job 101_1", j)
			}
		})
	}
}

// Detach submits the whole graph at once with afterok dependencies and returns; plan's
// Jobs shows each node's job from one squeue call.
func TestDetach(t *testing.T) {
	e := newTestEnv(t, 2)
	d, err := e.executor(e.settings()).Detach(context.Background(), e.g, e.plan())
	if err != nil {
		t.Fatal(err)
	}
	if d.Jobs != 4 || d.Cached != 0 {
		t.Errorf("Detach: %+v, want 4 jobs", d)
	}
	subs := e.c.callsOf("sbatch")
	if len(subs) != 3 {
		t.Fatalf("%d sbatch calls, want 3: %q", len(subs), subs)
	}
	deps := func(args []string) string { v, _ := argValue(args, "--dependency"); return v }
	if deps(subs[0]) != "" || deps(subs[1]) != "afterok:100" || deps(subs[2]) != "afterok:101_0:101_1" {
		t.Errorf("dependencies %q, %q, %q; want none, afterok:100, afterok:101_0:101_1", deps(subs[0]), deps(subs[1]), deps(subs[2]))
	}
	for _, args := range subs[1:] {
		if !slices.Contains(args, "--kill-on-invalid-dep=yes") {
			t.Errorf("a dependent job lacks --kill-on-invalid-dep=yes: %q", args)
		}
	}
	if len(e.c.callsOf("squeue")) != 0 {
		t.Errorf("Detach polled squeue")
	}
	e.c.sync()
	e.c.writeQueue()
	before := len(e.c.callsOf("squeue"))
	jobs, problems, err := Jobs(context.Background(), e.st, &Commands{}, e.exp)
	if err != nil || len(problems) > 0 {
		t.Fatal(err, problems)
	}
	if n := len(e.c.callsOf("squeue")) - before; n != 1 {
		t.Errorf("Jobs made %d squeue calls, want 1", n)
	}
	if j := jobs[e.g.Node("feval.e").Key]; j.ID != "102" || j.State != "PENDING" || !j.Detached {
		t.Errorf("feval.e's job %+v, want pending detached job 102", j)
	}
	if s := jobs[e.g.Node("ftrain.t[seed=1]").Key].String(); !strings.HasPrefix(s, "Slurm job 101_1 queued (run dmlrun-test-") {
		t.Errorf("NodeJob.String() = %q", s)
	}
	// Nothing was cached, so a second detach would submit everything again: the store,
	// not the record, decides. Run the jobs; then a later apply prunes the run.
	for range 3 {
		e.c.step()
	}
	if got := takeRuns(); len(got) != 4 {
		t.Errorf("the detached jobs ran %v", got)
	}
	// Beside it: a live attached head whose nodes are all in the store (another head
	// computed them; it still writes its record there), a head that has submitted nothing
	// yet, and an attached head on this machine whose process is gone.
	host, _ := os.Hostname()
	done := []JobRecord{{ID: "100", Addr: "feval.e", Key: e.g.Node("feval.e").Key, Attempt: 1, Submission: 1}}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	others := []*Record{
		{Format: RecordFormat, Run: "dmlrun-test-aaaaa1", Host: host, PID: os.Getpid(), Jobs: done},
		{Format: RecordFormat, Run: "dmlrun-test-aaaaa2", Host: host, PID: os.Getpid(), Jobs: []JobRecord{}},
		{Format: RecordFormat, Run: "dmlrun-test-aaaaa3", Host: host, PID: dead.Process.Pid, Jobs: done},
	}
	for _, r := range others {
		if err := os.MkdirAll(runDir(e.st, r.Run), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := writeRecord(e.st, r); err != nil {
			t.Fatal(err)
		}
	}
	removed := Prune(e.st, "")
	sort.Strings(removed)
	want := []string{"dmlrun-test-aaaaa3", d.Run}
	sort.Strings(want)
	if !slices.Equal(removed, want) {
		t.Errorf("Prune removed %v, want the finished detached run and the dead head's: %v", removed, want)
	}
	for _, r := range others[:2] {
		if _, err := os.Stat(filepath.Join(runDir(e.st, r.Run), "run.json")); err != nil {
			t.Errorf("Prune removed live head %s's record: %v", r.Run, err)
		}
	}
}

// Two heads on one store: a node whose key another live run has a job for, or whose lock
// another process holds, is waited for, not submitted again, and found in the store
// when that one commits it.
func TestApplyWaitsForOtherRuns(t *testing.T) {
	e := newTestEnv(t, 1)
	train := e.g.Node("ftrain.t[seed=0]")
	other := &Record{Format: RecordFormat, Run: "dmlrun-other-abcdef", Experiment: "/elsewhere.hcl", Started: time.Now(),
		Jobs: []JobRecord{{ID: "900", Addr: train.Addr, Key: train.Key, Attempt: 1}}}
	if err := os.MkdirAll(runDir(e.st, other.Run), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeRecord(e.st, other); err != nil {
		t.Fatal(err)
	}
	var unlockEval func()
	e.c.onSleep = func(n int) error {
		q, _ := os.ReadFile(filepath.Join(e.c.dir, "queue"))
		switch {
		case n <= 3: // the other run's job is running
			e.c.write("queue", string(q)+"900|900|RUNNING|None|n2|dmlrun-other-abcdef\n")
		case n == 4: // it commits the training, and another process locks the evaluation
			e.c.write("queue", string(q)+"900|900|COMPLETED|None|n2|dmlrun-other-abcdef\n")
			ex := &pipeline.Executor{Store: e.st}
			j, _ := e.g.Job(train, pipeline.JobOptions{})
			if _, err := ex.RunJob(context.Background(), e.reg, j); err != nil {
				t.Error(err)
			}
			var err error
			if unlockEval, err = e.st.TryLock(e.g.Node("feval.e").Key); err != nil {
				t.Error(err)
			}
		case n == 8:
			unlockEval()
		}
		return nil
	}
	res, err := e.executor(e.settings()).Apply(context.Background(), e.g, e.plan())
	if err != nil {
		t.Fatalf("%v\n%s", err, e.evts)
	}
	for _, args := range e.c.callsOf("sbatch") {
		if c, _ := argValue(args, "--comment"); c == train.Addr {
			t.Errorf("the training was submitted though another run had a job for it")
		}
	}
	if got := statuses(res); got[train.Addr] != pipeline.StatusCached || got["feval.e"] != pipeline.StatusComputed {
		t.Errorf("statuses %v, want the training cached (the other run's) and feval computed", got)
	}
	for _, want := range []string{"ftrain.t[seed=0]: waiting: run dmlrun-other-abcdef job 900 has a job for its key",
		"ftrain.t[seed=0]: computed by another run", "feval.e: waiting: its key is locked by pid"} {
		if !strings.Contains(e.evts.String(), want) {
			t.Errorf("events lack %q:\n%s", want, e.evts)
		}
	}
	if got := takeRuns(); !reflect.DeepEqual(got, []string{"feval.e", "fsrc.d", "ftrain.t[seed=0]"}) {
		t.Errorf("stage runs %v: want each node computed once", got)
	}
}

// squeue failing now and then does not end the run; sbatch failing for good does, with
// the command's message.
func TestApplyCommandFailures(t *testing.T) {
	t.Run("squeue fails for a while", func(t *testing.T) {
		e := newTestEnv(t, 1)
		e.c.onSleep = func(n int) error {
			switch n {
			case 2:
				e.c.fail("squeue", 1, "slurm_load_jobs error: Socket timed out on send/recv operation")
			case 5:
				e.c.fail("squeue", 0, "")
			}
			return nil
		}
		if _, err := e.executor(e.settings()).Apply(context.Background(), e.g, e.plan()); err != nil {
			t.Fatalf("%v\n%s", err, e.evts)
		}
		if !strings.Contains(e.evts.String(), "squeue failed (3 in a row)") {
			t.Errorf("events:\n%s", e.evts)
		}
	})
	t.Run("sbatch refuses", func(t *testing.T) {
		e := newTestEnv(t, 1)
		e.c.fail("sbatch", 1, "sbatch: error: Batch job submission failed: Invalid partition name specified")
		_, err := e.executor(e.settings()).Apply(context.Background(), e.g, e.plan())
		if err == nil || !strings.Contains(err.Error(), "submit fsrc.d: sbatch --parsable") || !strings.Contains(err.Error(), "Invalid partition name specified") {
			t.Fatalf("Apply: %v, want sbatch's message", err)
		}
		if n := len(e.c.callsOf("sbatch")); n != 1 {
			t.Errorf("a permanent sbatch error was tried %d times", n)
		}
	})
	t.Run("sbatch busy", func(t *testing.T) {
		e := newTestEnv(t, 1)
		e.c.fail("sbatch", 1, "sbatch: error: Batch job submission failed: Resource temporarily unavailable")
		e.c.onSleep = func(n int) error {
			if n == 2 {
				e.c.fail("sbatch", 0, "")
			}
			return nil
		}
		if _, err := e.executor(e.settings()).Apply(context.Background(), e.g, e.plan()); err != nil {
			t.Fatalf("%v\n%s", err, e.evts)
		}
	})
}
