package pipeline

import (
	"context"
	"fmt"

	"dmlrun/store"
)

// runIsolated computes or finds Exclusive node n through e.Isolate: a verified artifact in
// the store is used as is (no process is started for it); otherwise the node is frozen as
// a Job with its share of the threads and run in another process, which takes the key's
// lock, runs the stage and commits as runTask does, printing its own event lines. The
// store then decides the outcome, as it does for the Slurm executor's jobs.
func (e *Executor) runIsolated(ctx context.Context, g *Graph, n *Node, inputs []*store.Artifact) (NodeResult, *store.Artifact) {
	t := e.newTask(g, n, inputs)
	res := NodeResult{Addr: n.Addr, Key: n.Key}
	fail := func(err error) (NodeResult, *store.Artifact) {
		res.Status = StatusFailed
		res.Err = &NodeError{Addr: n.Addr, Key: n.Key, Err: err}
		return res, nil
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if art, err := e.Store.Get(n.Key); err == nil {
		res.Status, res.Dir = StatusCached, art.Dir
		e.record(t)
		return res, art
	}
	// Its share of the machine: its threads, and no CPUs beside them (the other nodes'),
	// which a stage would otherwise give work to (train's batch prefetch).
	share := IsolatedThreads(e.Threads, e.Jobs)
	job, err := g.Job(n, JobOptions{Experiment: e.Experiment, Device: e.Device, Threads: share, CPUs: share})
	if err != nil {
		return fail(err)
	}
	start := e.now()
	runErr := e.Isolate(ctx, job)
	res.Duration = e.now().Sub(start)
	if runErr != nil {
		return fail(runErr)
	}
	art, err := e.Store.Get(n.Key)
	if err != nil {
		return fail(fmt.Errorf("its process ended without error, but the store has no usable artifact for key %s…: %w", n.Key[:12], err))
	}
	res.Status, res.Dir = StatusComputed, art.Dir
	return res, art
}
