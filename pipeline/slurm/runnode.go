package slurm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"dmlrun/pipeline"
	"dmlrun/stage"
)

// NodeRun is the job side of the Slurm executor: what `dmlrun run-node JOBFILE` does
// inside a job. It runs the frozen node with pipeline.Executor.RunJob, the local
// executor's code, turns signals into cancelling the node, requeues the job when the
// pre-limit signal stopped a resumable node, and writes the attempt's Outcome next to the
// job file.
//
// Signals: SIGUSR1 is the pre-limit signal (sbatch --signal=B:USR1@T). A resumable stage
// (train) is cancelled: it stops at a step boundary with its last epoch checkpoint kept in
// the store's tmp/<key>.partial, and the job requeues itself (Commands.Requeue) to resume
// from it with a fresh time limit. A stage that cannot resume is not disturbed (it may
// still finish in T). SIGTERM and SIGINT (scancel, preemption, the limit itself) cancel
// the node, keeping a resumable stage's checkpoint; the attempt has failed and the head
// decides about a retry.
type NodeRun struct {
	// Executor runs the node; the caller sets its Store, Provenance, Events and LogEcho.
	Executor *pipeline.Executor
	Stages   *stage.Registry
	JobFile  string
	Commands *Commands // nil outside Slurm (a local apply's isolated node): no requeue, no squeue
	// Signals delivers SIGUSR1, SIGTERM and SIGINT (signal.Notify); nil: none.
	Signals <-chan os.Signal
	// Getenv reads the job's environment (SLURM_JOB_ID, SLURM_CPUS_PER_TASK,
	// SLURM_RESTART_COUNT); nil is os.Getenv.
	Getenv func(string) string
	// Log receives run-node's own lines (the job's output); nil discards them.
	Log io.Writer
	Now func() time.Time
}

// ErrRequeued is what Run returns when the job put itself back into the queue; the
// command exits 0 (Slurm ends the job's processes itself).
var ErrRequeued = errors.New("the job requeued itself to resume from its checkpoint")

func (r *NodeRun) getenv(k string) string {
	if r.Getenv != nil {
		return r.Getenv(k)
	}
	return os.Getenv(k)
}

func (r *NodeRun) logf(format string, args ...any) {
	if r.Log != nil {
		fmt.Fprintf(r.Log, "dmlrun run-node: "+format+"\n", args...)
	}
}

func (r *NodeRun) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// OutcomeFile is where run-node writes the outcome of the job file's attempt.
func OutcomeFile(jobFile string) string {
	return strings.TrimSuffix(jobFile, ".json") + ".outcome.json"
}

// Run runs the job. It returns nil when the node's artifact is committed (computed here or
// found in the store), ErrRequeued when the job requeued itself, and otherwise the node's
// error. The outcome file is written in every case it can be.
func (r *NodeRun) Run(ctx context.Context) error {
	started := r.now()
	host, _ := os.Hostname()
	out := &Outcome{JobID: r.getenv("SLURM_JOB_ID"), Host: host, Started: started.UTC()}
	finish := func(status string, err error) error {
		out.Status = status
		if err != nil {
			out.Error = err.Error()
		}
		if werr := writeOutcome(OutcomeFile(r.JobFile), out); werr != nil {
			r.logf("cannot write the outcome file: %v", werr)
		}
		return err
	}
	b, err := os.ReadFile(r.JobFile)
	if err != nil {
		out.Permanent = true
		return finish(OutcomeFailed, fmt.Errorf("read the job file: %w", err))
	}
	job, err := pipeline.DecodeJob(b)
	if err != nil {
		out.Permanent = true
		return finish(OutcomeFailed, fmt.Errorf("%s: %w", r.JobFile, err))
	}
	out.Addr, out.Key = job.Addr, job.Key
	if job.Threads == 0 {
		job.Threads = runtime.NumCPU()
		if n, err := strconv.Atoi(r.getenv("SLURM_CPUS_PER_TASK")); err == nil && n > 0 {
			job.Threads = n
		}
	}
	resumable := false
	if def, ok := r.Stages.Lookup(job.Stage); ok {
		resumable = def.Resumable
	}
	r.logf("%s (key %s…, stage %s) on %s, Slurm job %s, restart %s, %d thread(s)", job.Addr, job.Key[:12], job.Stage, host,
		orNone(out.JobID), orNone(r.getenv("SLURM_RESTART_COUNT")), job.Threads)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var limit, term bool
	stopWatch := make(chan struct{})
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		for {
			select {
			case <-stopWatch:
				return
			case sig, ok := <-r.Signals:
				if !ok {
					return
				}
				mu.Lock()
				switch {
				case sig == syscall.SIGUSR1 && !resumable:
					r.logf("the time limit is near, but stage %s cannot resume from a checkpoint: letting it run", job.Stage)
				case sig == syscall.SIGUSR1:
					limit = true
					r.logf("the time limit is near: stopping %s at a step boundary, keeping its checkpoint", job.Addr)
					cancel()
				default:
					term = true
					r.logf("%v: stopping %s (a resumable stage keeps its checkpoint)", sig, job.Addr)
					cancel()
				}
				mu.Unlock()
			}
		}
	}()
	if st := r.Executor.Store; st.JobAlive == nil && r.Commands != nil {
		st.JobAlive = (&Liveness{Commands: r.Commands, TTL: 30 * time.Second}).JobAlive
	}
	before := partialState(r.Executor.Store.PartialDir(job.Key))
	res, runErr := r.Executor.RunJob(ctx, r.Stages, job)
	close(stopWatch)
	<-watchDone
	out.Resumed, out.Duration = res.Resumed, res.Duration
	mu.Lock()
	gotLimit, gotTerm := limit, term
	mu.Unlock()

	switch {
	case runErr == nil && res.Status == pipeline.StatusCached:
		return finish(OutcomeCached, nil)
	case runErr == nil:
		return finish(OutcomeComputed, nil)
	case gotLimit && !gotTerm && errors.Is(runErr, context.Canceled):
		after := partialState(r.Executor.Store.PartialDir(job.Key))
		if after == "" || after == before {
			return finish(OutcomeFailed, fmt.Errorf("the pre-limit signal came before %s wrote a new checkpoint in this job, so a requeued job would start where this one did; raise the time limit of stage %s (stage %q { time = ... } in the executor config)", job.Addr, job.Stage, job.Stage))
		}
		id := out.JobID
		if id == "" || r.Commands == nil {
			return finish(OutcomeStopped, errors.New("stopped at the pre-limit signal with its checkpoint kept; not in a Slurm job ($SLURM_JOB_ID unset), so it cannot requeue itself"))
		}
		out.Status = OutcomeRequeued
		_ = writeOutcome(OutcomeFile(r.JobFile), out)
		rqCtx, rqCancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer rqCancel()
		if err := r.Commands.Requeue(rqCtx, id); err != nil {
			return finish(OutcomeStopped, fmt.Errorf("stopped at the pre-limit signal with its checkpoint kept, but the job cannot requeue itself (%v); the head submits it again", err))
		}
		r.logf("requeued job %s; %s resumes from its checkpoint when it starts again", id, job.Addr)
		return ErrRequeued
	case gotTerm:
		finish(OutcomeFailed, fmt.Errorf("stopped by a signal (scancel, preemption or the time limit): %w", cause(runErr)))
		return runErr
	}
	var je *pipeline.JobError
	if errors.As(runErr, &je) && !je.Retry {
		out.Permanent = true
	}
	finish(OutcomeFailed, cause(runErr))
	return runErr
}

// cause is a node's error without the address and log path a *pipeline.NodeError adds
// (the outcome names the node, and the head keeps the log).
func cause(err error) error {
	var ne *pipeline.NodeError
	if errors.As(err, &ne) {
		return ne.Err
	}
	return err
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// partialState fingerprints the stage's files in a resumable stage's partial directory
// (names, sizes and modification times; not log.txt, which the executor writes every
// attempt): a new epoch checkpoint changes it. "" when there are none.
func partialState(dir string) string {
	var lines []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == filepath.Join(dir, "log.txt") {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			lines = append(lines, fmt.Sprintf("%s %d %d", p, fi.Size(), fi.ModTime().UnixNano()))
		}
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
