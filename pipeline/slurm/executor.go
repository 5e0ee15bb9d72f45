package slurm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"dmlrun/dag"
	"dmlrun/pipeline"
	"dmlrun/store"
)

// Executor runs a plan on a Slurm cluster: the head process (dmlrun apply) keeps the
// graph, submits each node whose inputs are in the store as one job running `dmlrun
// run-node` on the node's frozen definition, follows the jobs with one squeue call per
// interval, and decides success from the store alone. It implements pipeline.Runner.
//
// The store must be on a filesystem that the head and every compute node share, at the
// same path, and so must the working directory (relative dataset paths are read from it)
// and the dmlrun binary the jobs run (Settings.Dmlrun, else this process's executable).
type Executor struct {
	Store *store.Store
	// Experiment identifies the experiment in the store's index (its absolute path);
	// Display names it in messages and in the run's job name.
	Experiment, Display string
	Settings            *Settings
	Commands            *Commands
	Device              string // passed to every node: "auto", "cpu", "cuda:N"
	Threads             int    // passed to every node; 0: the job's CPUs ($SLURM_CPUS_PER_TASK)

	// Run is the Slurm job name of every job of this run; "" makes one (NewRunName).
	Run string
	// Events receives one line per node event; may be nil.
	Events io.Writer
	// Confirm is called once when ctx is cancelled while jobs are queued or running, with
	// their number; true cancels them (scancel --name), false leaves them running (plan
	// shows them). nil cancels without asking.
	Confirm func(jobs int) bool

	// Now and Sleep are the clock; nil means the real one. Sleep returns ctx's error when
	// ctx ends first.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Executable is the dmlrun the jobs run when Settings.Dmlrun is ""; "" means
	// os.Executable.
	Executable string

	eventsMu sync.Mutex
}

var _ pipeline.Runner = (*Executor)(nil)

func (e *Executor) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Executor) sleep(ctx context.Context, d time.Duration) error {
	if e.Sleep != nil {
		return e.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (e *Executor) event(format string, args ...any) {
	if e.Events == nil {
		return
	}
	e.eventsMu.Lock()
	defer e.eventsMu.Unlock()
	fmt.Fprintf(e.Events, format+"\n", args...)
}

// nodeState is where a node of the run is.
type nodeState int

const (
	stWaiting   nodeState = iota // inputs not done yet
	stReady                      // may be submitted
	stElsewhere                  // another run (head) is computing its key: wait for it
	stQueued                     // submitted; its job is pending or running
	stDone
	stFailed
)

// runNode is one plan node during Apply.
type runNode struct {
	n        *pipeline.Node
	state    nodeState
	failures int      // failed attempts (a requeue or a stop is not one)
	attempts int      // submissions
	exclude  []string // hosts that failed it
	job      *liveJob
	res      pipeline.NodeResult
	waitNote string // what stElsewhere waits for, for the event line
}

// liveJob is a node's current job.
type liveJob struct {
	id        JobID
	raw       string // the job's own id, once squeue shows it running
	sub, task int
	dir       string // s<N>/
	host      string
	state     string
	submitted time.Time
	announced bool // "running on" was printed
}

// run is one Apply in progress.
type run struct {
	e         *Executor
	ctx       context.Context
	g         *pipeline.Graph
	rec       *Record
	nodes     []*runNode
	byNode    map[*pipeline.Node]*runNode
	tracker   *dag.Tracker[*pipeline.Node]
	subs      int // submissions so far
	exe, cwd  string
	hosts     map[string][]string // partition -> its nodes (sinfo, once each)
	stopping  bool
	errs      []error
	changed   bool // something happened since the last poll (resets the backoff)
	pollFails int
}

// Apply runs the plan's nodes on the cluster and returns when every one is done, has
// failed for good, or was not started because the run stopped. It checks the plan as the
// local executor does (pipeline.Graph.PlanNodes) and never re-plans.
//
// Each ready node is looked up in the store first (a hit is cached, as with the local
// executor); a key whose lock another process holds, or that another run on this store
// has a live job for, is waited for instead of submitted, so two heads on one store
// compute each node once. Sibling nodes of one block that are ready together go as one
// job array (--array=0-N%ArrayLimit); at most MaxJobs nodes are submitted and not finished
// at once.
//
// A node is done when its key's artifact is committed. A job that ended, or vanished from
// squeue, without one has failed: its output is kept as the key's failed log
// (store.KeepFailedLog) and the node is submitted again, excluding the hosts that failed
// it, up to Retries times; a job that requeued itself at the pre-limit signal is followed
// as the same job. After a node fails for good no new node starts and the run's pending
// jobs are cancelled; running jobs finish. When ctx is cancelled, Confirm decides whether
// the run's jobs are cancelled (scancel --name) or left running.
func (e *Executor) Apply(ctx context.Context, g *pipeline.Graph, p *pipeline.Plan) (*pipeline.Result, error) {
	nodes, err := g.PlanNodes(p)
	if err != nil {
		return nil, err
	}
	if err := e.Settings.Check(); err != nil {
		return nil, err
	}
	r, err := e.start(ctx, g, false)
	if err != nil {
		return nil, err
	}
	r.byNode = map[*pipeline.Node]*runNode{}
	for _, n := range nodes {
		rn := &runNode{n: n, res: pipeline.NodeResult{Addr: n.Addr, Key: n.Key, Status: pipeline.StatusSkipped}}
		r.nodes = append(r.nodes, rn)
		r.byNode[n] = rn
	}
	tr := g.NewTracker(nodes)
	r.tracker = tr
	for _, n := range tr.Ready() {
		r.byNode[n].state = stReady
	}
	e.event("slurm: run %s: %d node(s), jobs and logs in %s", r.rec.Run, len(nodes), runDir(e.Store, r.rec.Run))

	interval := e.Settings.Poll
	for {
		r.resolveReady()
		if err := r.submitReady(); err != nil {
			r.stop(err)
		}
		if r.count(stQueued) == 0 && (r.stopping || r.count(stElsewhere) == 0) {
			break
		}
		if err := e.sleep(ctx, interval); err != nil {
			return r.interrupted(err)
		}
		r.changed = false
		if err := r.poll(); err != nil {
			r.stop(err)
		}
		if r.changed {
			interval = e.Settings.Poll
		} else {
			interval = min(interval*2, e.Settings.PollMax)
		}
	}
	return r.finish()
}

// start makes the run's record and folder.
func (e *Executor) start(ctx context.Context, g *pipeline.Graph, detached bool) (*run, error) {
	if strings.Contains(e.Store.Dir(), "%") {
		return nil, fmt.Errorf("the store path %s contains %%, which sbatch reads as a file name pattern; use a store path without %%", e.Store.Dir())
	}
	exe := e.Settings.Dmlrun
	if exe == "" {
		exe = e.Executable
	}
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("find the dmlrun binary for the jobs: %w; set dmlrun in the executor config", err)
		}
	}
	cwd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	if e.Commands == nil {
		e.Commands = &Commands{}
	}
	if e.Store.JobAlive == nil {
		// Leases of jobs that ended elsewhere count as stale at once (one squeue per job).
		e.Store.JobAlive = (&Liveness{Commands: e.Commands, TTL: e.Settings.Poll}).JobAlive
	}
	if e.Run == "" {
		e.Run = NewRunName(e.Display)
	}
	host, _ := os.Hostname()
	rec := &Record{Format: RecordFormat, Run: e.Run, Experiment: e.Experiment, Display: e.Display, Host: host, PID: os.Getpid(),
		Started: e.now().UTC(), Detached: detached, Jobs: []JobRecord{}}
	// The store makes its jobs folder and refuses one that is a link out of it.
	if _, err := e.Store.JobsDir(); err != nil {
		return nil, err
	}
	if err := os.Mkdir(runDir(e.Store, e.Run), 0o755); err != nil && !os.IsExist(err) {
		return nil, fmt.Errorf("make the run's folder: %w", err)
	}
	if err := writeRecord(e.Store, rec); err != nil {
		return nil, err
	}
	return &run{e: e, ctx: ctx, g: g, rec: rec, exe: exe, cwd: cwd, hosts: map[string][]string{}}, nil
}

func (r *run) count(s nodeState) int {
	n := 0
	for _, rn := range r.nodes {
		if rn.state == s {
			n++
		}
	}
	return n
}

func (r *run) stop(err error) {
	if err != nil {
		r.errs = append(r.errs, err)
	}
	if r.stopping {
		return
	}
	r.stopping = true
	if r.count(stQueued) > 0 {
		// Nothing new starts: jobs still pending are cancelled, running ones finish.
		if err := r.e.Commands.CancelName(context.WithoutCancel(r.ctx), r.rec.Run, true); err != nil {
			r.e.event("slurm: warning: cancel the run's pending jobs: %v", err)
		}
	}
}

// done marks a node done and readies what waited for it.
func (r *run) done(rn *runNode, status pipeline.Status, dir string) {
	rn.state = stDone
	rn.res.Status, rn.res.Dir, rn.res.Err = status, dir, nil
	r.changed = true
	for _, n := range r.tracker.Done(rn.n) {
		r.byNode[n].state = stReady
	}
}

// resolveReady settles ready and waiting-elsewhere nodes that need no job: a key in the
// store is cached; one that another process computes now (its lock is held) or another
// live run has a job for is left to it.
func (r *run) resolveReady() {
	var others map[string]string // key -> "run job id"
	for again := true; again; {
		again = false
		for _, rn := range r.nodes {
			if rn.state != stReady && rn.state != stElsewhere {
				continue
			}
			if art, err := r.e.Store.Get(rn.n.Key); err == nil {
				if rn.state == stElsewhere {
					r.e.event("%s: computed by another run", rn.n.Addr)
				}
				r.done(rn, pipeline.StatusCached, art.Dir)
				again = true
				continue
			}
			if r.stopping {
				continue
			}
			note := ""
			// One read of the lease; a probe with TryLock would write and remove one.
			if holder, _, held, err := r.e.Store.LockHolder(rn.n.Key); err == nil && held {
				note = "its key is locked by " + holder.String()
			}
			if note == "" {
				if others == nil {
					others = r.othersLive()
				}
				if j, ok := others[rn.n.Key]; ok {
					note = "run " + j + " has a job for its key"
				}
			}
			switch {
			case note != "" && rn.state != stElsewhere:
				rn.state, rn.waitNote = stElsewhere, note
				r.e.event("%s: waiting: %s", rn.n.Addr, note)
			case note == "" && rn.state == stElsewhere:
				rn.state = stReady // the other run ended without it: compute it here
				r.e.event("%s: no longer computed elsewhere (%s); submitting it", rn.n.Addr, rn.waitNote)
			}
		}
	}
}

// othersLive returns, per key, the job that another live run (another head, or a detached
// run) has pending or running for it, from their records and one squeue call.
func (r *run) othersLive() map[string]string {
	recs, _ := Records(r.e.Store, "")
	var names []string
	want := map[string]map[JobID]string{} // run -> job id -> key
	for _, rec := range recs {
		if rec.Run == r.rec.Run {
			continue
		}
		names = append(names, rec.Run)
		want[rec.Run] = map[JobID]string{}
		for _, j := range rec.latest() {
			want[rec.Run][j.ID] = j.Key
		}
	}
	out := map[string]string{}
	if len(names) == 0 {
		return out
	}
	entries, err := r.e.Commands.Queue(context.WithoutCancel(r.ctx), names)
	if err != nil {
		r.e.event("slurm: warning: cannot see other runs' jobs: %v", err)
		return out
	}
	jobRun := map[JobID]string{}
	for run, ids := range want {
		for id := range ids {
			jobRun[id] = run
		}
	}
	for _, q := range entries {
		run, ok := jobRun[q.ID]
		if !ok || Terminal(q.State) {
			continue
		}
		out[want[run][q.ID]] = run + " job " + string(q.ID)
	}
	return out
}

// submitReady submits ready nodes, siblings of one block together as an array, while
// fewer than MaxJobs of the run's nodes are queued.
func (r *run) submitReady() error {
	if r.stopping {
		return nil
	}
	for {
		free := r.e.Settings.MaxJobs - r.count(stQueued)
		if free <= 0 {
			return nil
		}
		// The first ready node in plan order, and the ready siblings of its block with it;
		// a retry goes alone, with its own --exclude.
		var group []*runNode
		for _, rn := range r.nodes {
			switch {
			case rn.state != stReady:
			case len(group) == 0:
				group = append(group, rn)
			case len(group) < free && group[0].failures == 0 && rn.failures == 0 && rn.n.Block() == group[0].n.Block():
				group = append(group, rn)
			}
		}
		if len(group) == 0 {
			return nil
		}
		if err := r.submit(group, nil); err != nil {
			return err
		}
	}
}

// submit sends nodes of one block as one job (one node) or one job array; deps are
// afterok dependencies (detach).
func (r *run) submit(group []*runNode, deps []JobID) error {
	r.subs++
	sub := r.subs
	dir := subDir(r.e.Store, r.rec.Run, sub)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("submit %s: %w", group[0].n.Addr, err)
	}
	for i, rn := range group {
		j, err := r.g.Job(rn.n, pipeline.JobOptions{Experiment: r.e.Experiment, Device: r.e.Device, Threads: r.e.Threads})
		if err != nil {
			return fmt.Errorf("submit %s: %w", rn.n.Addr, err)
		}
		b, err := pipeline.EncodeJob(j)
		if err == nil {
			err = writeFileAtomic(jobFile(dir, i), b)
		}
		if err != nil {
			return fmt.Errorf("submit %s: write its job file: %w", rn.n.Addr, err)
		}
	}
	script := filepath.Join(dir, "job.sh")
	if err := os.WriteFile(script, []byte(r.script(dir, group)), 0o755); err != nil {
		return fmt.Errorf("submit %s: %w", group[0].n.Addr, err)
	}
	exclude := r.excludeFor(group[0])
	args := r.sbatchArgs(group, dir, deps, exclude)
	id, err := r.submitRetrying(args, script)
	if err != nil {
		return fmt.Errorf("submit %s: %w", group[0].n.Addr, err)
	}
	now := r.e.now()
	for i, rn := range group {
		jid := id
		if len(group) > 1 {
			jid = ArrayTask(id, i)
		}
		rn.attempts++
		rn.state = stQueued
		rn.job = &liveJob{id: jid, sub: sub, task: i, dir: dir, submitted: now, state: "PENDING"}
		r.rec.Jobs = append(r.rec.Jobs, JobRecord{ID: jid, Addr: rn.n.Addr, Key: rn.n.Key, Attempt: rn.attempts, Submission: sub, Task: i, Submitted: now.UTC()})
	}
	if err := writeRecord(r.e.Store, r.rec); err != nil {
		r.e.event("slurm: warning: %v", err)
	}
	r.changed = true
	if len(group) == 1 {
		extra := ""
		if group[0].attempts > 1 {
			extra = fmt.Sprintf(" (attempt %d of %d", group[0].attempts, r.e.Settings.Retries+1)
			if len(exclude) > 0 {
				extra += ", excluding " + strings.Join(exclude, ",")
			}
			extra += ")"
		}
		r.e.event("%s: submitted as Slurm job %s%s", group[0].n.Addr, id, extra)
	} else {
		r.e.event("%s: %d nodes submitted as Slurm job array %s (%s .. %s)", group[0].n.Block(), len(group), id, group[0].n.Addr, group[len(group)-1].n.Addr)
	}
	return nil
}

// submitRetrying runs sbatch, trying again with backoff while the controller says it is
// busy (up to 5 tries).
func (r *run) submitRetrying(args []string, script string) (JobID, error) {
	wait := r.e.Settings.Poll
	for try := 1; ; try++ {
		id, err := r.e.Commands.Submit(context.WithoutCancel(r.ctx), args, script)
		var ce *CommandError
		if err == nil || !errors.As(err, &ce) || !ce.Transient() || try == 5 {
			return id, err
		}
		r.e.event("slurm: sbatch failed (%v); trying again in %s", err, wait)
		if err := r.e.sleep(r.ctx, wait); err != nil {
			return "", err
		}
		wait = min(wait*2, r.e.Settings.PollMax)
	}
}

// excludeFor returns the hosts a node's next job must avoid: those that failed it, unless
// that would leave its partition no node at all (then none: a one-node cluster can only
// retry where it failed).
func (r *run) excludeFor(rn *runNode) []string {
	if len(rn.exclude) == 0 {
		return nil
	}
	part := r.e.Settings.For(rn.n.Kind).Partition
	nodes, ok := r.hosts[part]
	if !ok {
		var err error
		nodes, err = r.e.Commands.Nodes(context.WithoutCancel(r.ctx), part)
		if err != nil {
			r.e.event("slurm: warning: cannot list the partition's nodes (%v); retrying without --exclude", err)
			return nil
		}
		r.hosts[part] = nodes
	}
	left := 0
	for _, h := range nodes {
		if !contains(rn.exclude, h) {
			left++
		}
	}
	if left == 0 {
		r.e.event("%s: every node of its partition failed it before; retrying without --exclude", rn.n.Addr)
		return nil
	}
	return rn.exclude
}

// sbatchArgs are the options of one submission (sbatch adds --parsable and the script).
func (r *run) sbatchArgs(group []*runNode, dir string, deps []JobID, exclude []string) []string {
	n := group[0].n
	res := r.e.Settings.For(n.Kind)
	comment := n.Addr
	if len(group) > 1 {
		addrs := make([]string, len(group))
		for i, rn := range group {
			addrs[i] = rn.n.Addr
		}
		comment = strings.Join(addrs, " ")
	}
	if len(comment) > 1000 {
		comment = comment[:1000] + "…"
	}
	args := []string{
		"--job-name=" + r.rec.Run,
		"--comment=" + comment,
		"--chdir=" + r.cwd,
		"--no-requeue",
		"--open-mode=append",
		fmt.Sprintf("--signal=B:USR1@%d", int(r.e.Settings.SignalLead/time.Second)),
	}
	if len(group) > 1 {
		args = append(args, "--output="+filepath.Join(dir, "%a.out"))
		limit := r.e.Settings.ArrayLimit
		if limit == 0 {
			limit = r.e.Settings.MaxJobs
		}
		spec := fmt.Sprintf("--array=0-%d", len(group)-1)
		if limit < len(group) {
			spec += fmt.Sprintf("%%%d", limit)
		}
		args = append(args, spec)
	} else {
		args = append(args, "--output="+outFile(dir, 0))
	}
	if res.Time > 0 {
		args = append(args, "--time="+SlurmTime(res.Time))
	}
	if res.Partition != "" {
		args = append(args, "--partition="+res.Partition)
	}
	if r.e.Settings.Account != "" {
		args = append(args, "--account="+r.e.Settings.Account)
	}
	switch {
	case res.Gres != "":
		args = append(args, "--gres="+res.Gres)
	case res.GPUs > 0:
		args = append(args, fmt.Sprintf("--gres=gpu:%d", res.GPUs))
	}
	if res.CPUs > 0 {
		args = append(args, fmt.Sprintf("--cpus-per-task=%d", res.CPUs))
	}
	if res.Memory != "" {
		args = append(args, "--mem="+res.Memory)
	}
	if len(exclude) > 0 {
		args = append(args, "--exclude="+strings.Join(exclude, ","))
	}
	if len(deps) > 0 {
		ids := make([]string, len(deps))
		for i, d := range deps {
			ids[i] = string(d)
		}
		args = append(args, "--dependency=afterok:"+strings.Join(ids, ":"), "--kill-on-invalid-dep=yes")
	}
	return append(args, r.e.Settings.ExtraArgs...)
}

// script is the batch script: exec, so that the batch shell is dmlrun itself and gets
// the --signal=B:USR1 (B: the batch shell only).
func (r *run) script(dir string, group []*runNode) string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n")
	fmt.Fprintf(&b, "# dmlrun run %s: %s", r.rec.Run, group[0].n.Addr)
	if len(group) > 1 {
		fmt.Fprintf(&b, " and %d more node(s) of %s, one per array task", len(group)-1, group[0].n.Block())
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "exec %s run-node --store %s %s/\"${SLURM_ARRAY_TASK_ID:-0}.json\"\n", shellQuote(r.exe), shellQuote(r.e.Store.Dir()), shellQuote(dir))
	return b.String()
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// poll asks squeue once about every job of the run and settles the ones that ended.
func (r *run) poll() error {
	var queued []*runNode
	for _, rn := range r.nodes {
		if rn.state == stQueued {
			queued = append(queued, rn)
		}
	}
	if len(queued) == 0 {
		return nil
	}
	entries, err := r.e.Commands.Queue(context.WithoutCancel(r.ctx), []string{r.rec.Run})
	if err != nil {
		// The controller may be restarting: keep going on the next interval, and give up
		// only when it has not answered for a long time.
		r.pollFails++
		r.e.event("slurm: squeue failed (%d in a row): %v", r.pollFails, err)
		if r.pollFails >= 20 {
			return fmt.Errorf("squeue failed %d times in a row, last: %w", r.pollFails, err)
		}
		return nil
	}
	r.pollFails = 0
	byID := make(map[JobID]QueueEntry, len(entries))
	for _, q := range entries {
		byID[q.ID] = q
	}
	var vanished []*runNode
	for _, rn := range queued {
		q, ok := byID[rn.job.id]
		if !ok {
			vanished = append(vanished, rn)
			continue
		}
		if q.Raw != "" && q.State != "PENDING" {
			rn.job.raw = q.Raw
		}
		if q.Nodes != "" {
			rn.job.host = q.Nodes
		}
		if q.State != rn.job.state {
			r.changed = true
			switch {
			case q.State == "RUNNING" && !rn.job.announced:
				rn.job.announced = true
				r.e.event("%s: running on %s (job %s)", rn.n.Addr, q.Nodes, rn.job.id)
			case q.State == "PENDING" && rn.job.state == "RUNNING":
				r.e.event("%s: job %s is back in the queue (%s)", rn.n.Addr, rn.job.id, q.Reason)
				rn.job.announced = false
			}
			rn.job.state = q.State
		}
		if Terminal(q.State) {
			r.settle(rn, q.State, q.Reason)
		}
	}
	if len(vanished) > 0 {
		// A job squeue no longer knows (a cancelled pending array task, or one older than
		// MinJobAge): accounting may say how it ended; the store says whether it worked.
		var raw []string
		for _, rn := range vanished {
			if rn.job.raw != "" {
				raw = append(raw, rn.job.raw)
			}
		}
		acct, err := r.e.Commands.Accounting(context.WithoutCancel(r.ctx), raw)
		if err != nil {
			r.e.event("slurm: warning: sacct: %v", err)
		}
		for _, rn := range vanished {
			state, reason := "VANISHED", "no longer known to squeue"
			if a, ok := acct[rn.job.raw]; ok {
				state, reason = a.State, "exit code "+a.ExitCode
				if a.Nodes != "" && a.Nodes != "None assigned" {
					rn.job.host = a.Nodes
				}
			}
			r.changed = true
			r.settle(rn, state, reason)
		}
	}
	return nil
}

// settle decides what a node whose job ended is: done when its artifact is in the store,
// else failed (retried, or for good).
func (r *run) settle(rn *runNode, state, reason string) {
	job := rn.job
	out := ReadOutcome(outcomeFile(job.dir, job.task))
	if art, err := r.e.Store.Get(rn.n.Key); err == nil {
		status := pipeline.StatusComputed
		if out != nil && out.Status == OutcomeCached {
			status = pipeline.StatusCached
		}
		if out != nil {
			rn.res.Resumed, rn.res.Duration = out.Resumed, out.Duration
		}
		r.done(rn, status, art.Dir)
		what := "computed"
		if status == pipeline.StatusCached {
			what = "found in the store (computed by another job)"
		}
		r.e.event("%s: %s (job %s on %s)", rn.n.Addr, what, job.id, job.host)
		return
	}
	if job.host == "" && out != nil {
		job.host = out.Host
	}
	if r.stopping && out == nil && !job.announced && (state == "CANCELLED" || state == "VANISHED") {
		// A pending job that stop cancelled: not started, not a failure.
		rn.state, rn.job = stFailed, nil
		rn.res.Status = pipeline.StatusSkipped
		return
	}
	why := fmt.Sprintf("Slurm job %s %s", job.id, state)
	if reason != "" && reason != "None" {
		why += " (" + reason + ")"
	}
	if job.host != "" {
		why += " on " + job.host
	}
	if out != nil && out.Error != "" {
		why += ": " + out.Error
	} else {
		why += " without committing its artifact"
	}
	logName := r.keepLog(rn, why)
	stopped := out != nil && out.Status == OutcomeStopped || state == "PREEMPTED"
	permanent := out != nil && out.Permanent
	if !stopped {
		rn.failures++
		if job.host != "" && !contains(rn.exclude, job.host) {
			rn.exclude = append(rn.exclude, job.host)
		}
	}
	switch {
	case stopped && !r.stopping:
		r.e.event("%s: %s; submitting it again to resume", rn.n.Addr, why)
		rn.state = stReady
	case !permanent && rn.failures <= r.e.Settings.Retries && !r.stopping:
		r.e.event("%s: %s; retrying (%d of %d retries)", rn.n.Addr, why, rn.failures, r.e.Settings.Retries)
		rn.state = stReady
	default:
		rn.state = stFailed
		err := &pipeline.NodeError{Addr: rn.n.Addr, Key: rn.n.Key, Log: logName, Err: errors.New(why)}
		rn.res.Status, rn.res.Err = pipeline.StatusFailed, err
		tries := ""
		if rn.attempts > 1 {
			tries = fmt.Sprintf(" after %d attempts", rn.attempts)
		}
		r.e.event("%s: failed%s: %s", rn.n.Addr, tries, why)
		if logName != "" {
			r.e.event("%s: log: %s\n%s", rn.n.Addr, logName, indent(tailOf(logName, 2000)))
		}
		r.stop(err)
	}
	rn.job = nil
}

// keepLog keeps the job's output as the key's failed log, with a first line saying which
// job it was; "" when there is none or the key is locked (another process computes it
// now, and its outcome is what will count).
func (r *run) keepLog(rn *runNode, why string) string {
	unlock, err := r.e.Store.TryLock(rn.n.Key)
	if err != nil {
		return ""
	}
	defer unlock()
	// The job's output has run-node's lines and the stage's log (run-node echoes it).
	// Without one, the stage's own log.txt that run-node kept for this attempt stands in.
	out, err := os.ReadFile(outFile(rn.job.dir, rn.job.task))
	if err != nil {
		out = []byte(fmt.Sprintf("(the job left no output: %v)\n", err))
		prev := r.e.Store.FailedLogPath(rn.n.Key)
		if fi, err := os.Stat(prev); err == nil && !fi.ModTime().Before(rn.job.submitted) {
			if b, err := os.ReadFile(prev); err == nil {
				out = append(append(out, "(the stage's log:)\n"...), b...)
			}
		}
	}
	data := append([]byte(fmt.Sprintf("dmlrun: %s: %s (run %s, attempt %d)\n", rn.n.Addr, why, r.rec.Run, rn.attempts)), out...)
	name, err := r.e.Store.KeepFailedLog(rn.n.Key, data)
	if err != nil {
		r.e.event("%s: warning: %v", rn.n.Addr, err)
		return ""
	}
	return name
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return "    (empty)"
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// interrupted handles a cancelled ctx: ask, then cancel the run's jobs or leave them.
func (r *run) interrupted(cause error) (*pipeline.Result, error) {
	n := r.count(stQueued)
	if n > 0 {
		cancel := r.e.Confirm == nil || r.e.Confirm(n)
		if cancel {
			if err := r.e.Commands.CancelName(context.WithoutCancel(r.ctx), r.rec.Run, false); err != nil {
				r.e.event("slurm: cancel the run's jobs: %v (cancel them yourself: scancel --name=%s)", err, r.rec.Run)
			} else {
				r.e.event("slurm: cancelled %d job(s) of run %s (scancel --name=%s); finished nodes stay in the store, and an interrupted training resumes on the next apply", n, r.rec.Run, r.rec.Run)
			}
			for _, rn := range r.nodes {
				if rn.state == stQueued {
					rn.res.Status, rn.res.Err = pipeline.StatusFailed, &pipeline.NodeError{Addr: rn.n.Addr, Key: rn.n.Key, Err: cause}
				}
			}
			r.rec.Finished = true
		} else {
			r.e.event("slurm: %d job(s) of run %s keep running; `dmlrun plan %s` shows them, `scancel --name=%s` cancels them", n, r.rec.Run, r.e.Display, r.rec.Run)
		}
	} else {
		r.rec.Finished = true
	}
	res, _ := r.result()
	if err := writeRecord(r.e.Store, r.rec); err != nil {
		r.e.event("slurm: warning: %v", err)
	}
	return res, fmt.Errorf("apply interrupted: %w", errors.Join(append([]error{cause}, r.errs...)...))
}

func (r *run) result() (*pipeline.Result, error) {
	res := &pipeline.Result{}
	for _, rn := range r.nodes {
		res.Nodes = append(res.Nodes, rn.res)
	}
	return res, errors.Join(r.errs...)
}

// finish ends a run whose jobs have all ended: its folder goes (the failed logs are in
// the store's tmp/), and the result is returned.
func (r *run) finish() (*pipeline.Result, error) {
	res, err := r.result()
	r.rec.Finished = true
	if rmErr := os.RemoveAll(runDir(r.e.Store, r.rec.Run)); rmErr != nil {
		r.e.event("slurm: warning: remove the run's folder: %v", rmErr)
	}
	return res, err
}

// Detached is what Detach submitted.
type Detached struct {
	Run  string // the job name of every job
	Jobs int    // nodes submitted
	// Cached are the plan nodes already in the store (not submitted).
	Cached int
	Dir    string // the run's folder in the store
}

// Detach submits every plan node that is not in the store at once, each with afterok
// dependencies on its inputs' jobs (and --kill-on-invalid-dep=yes, so that the
// dependents of a failed node are cancelled instead of pending forever, whatever the
// cluster's DependencyParameters), records the jobs in the store and returns: no head
// follows them. Siblings of one block with the same dependencies go as one array. There
// are no retries (no head is left to make them): a failed node's dependents are cancelled,
// and `dmlrun plan` shows what is queued, running, done or failed; apply again to go on.
// A resumable node that gets the pre-limit signal requeues itself as in Apply.
func (e *Executor) Detach(ctx context.Context, g *pipeline.Graph, p *pipeline.Plan) (*Detached, error) {
	nodes, err := g.PlanNodes(p)
	if err != nil {
		return nil, err
	}
	if err := e.Settings.Check(); err != nil {
		return nil, err
	}
	r, err := e.start(ctx, g, true)
	if err != nil {
		return nil, err
	}
	d := &Detached{Run: r.rec.Run, Dir: runDir(e.Store, r.rec.Run)}
	jobOf := map[*pipeline.Node]JobID{}
	var pending []*runNode
	depsOf := func(n *pipeline.Node) []JobID {
		var deps []JobID
		seen := map[JobID]bool{}
		for _, in := range n.Inputs {
			if id, ok := jobOf[in.From]; ok && !seen[id] {
				seen[id] = true
				deps = append(deps, id)
			}
		}
		sort.Slice(deps, func(i, j int) bool { return deps[i] < deps[j] })
		return deps
	}
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		deps := depsOf(pending[0].n)
		err := r.submit(pending, deps)
		for _, rn := range pending {
			if rn.job != nil {
				jobOf[rn.n] = rn.job.id
			}
		}
		pending = nil
		return err
	}
	for _, n := range nodes {
		if _, err := e.Store.Get(n.Key); err == nil {
			d.Cached++
			continue
		}
		rn := &runNode{n: n}
		r.nodes = append(r.nodes, rn)
		// Group with the previous node when it is a sibling with the same dependencies;
		// the dependencies are known once every input was submitted, which topological
		// order guarantees.
		if len(pending) > 0 && (pending[0].n.Block() != n.Block() || !sameIDs(depsOf(pending[0].n), depsOf(n))) {
			if err := flush(); err != nil {
				return d, r.abandon(err)
			}
		}
		pending = append(pending, rn)
	}
	if err := flush(); err != nil {
		return d, r.abandon(err)
	}
	d.Jobs = len(r.nodes)
	if d.Jobs == 0 {
		_ = os.RemoveAll(d.Dir)
	}
	return d, nil
}

// abandon cancels what a Detach submitted before it failed.
func (r *run) abandon(err error) error {
	if len(r.rec.Jobs) > 0 {
		if cerr := r.e.Commands.CancelName(context.WithoutCancel(r.ctx), r.rec.Run, false); cerr != nil {
			return fmt.Errorf("%w; cancelling the %d job(s) already submitted failed too: %v (scancel --name=%s)", err, len(r.rec.Jobs), cerr, r.rec.Run)
		}
		r.rec.Finished = true
		_ = writeRecord(r.e.Store, r.rec)
		return fmt.Errorf("%w; the %d job(s) already submitted were cancelled", err, len(r.rec.Jobs))
	}
	_ = os.RemoveAll(runDir(r.e.Store, r.rec.Run))
	return err
}

func sameIDs(a, b []JobID) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
