package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"dmlrun/stage"
	"dmlrun/store"
)

// Executor runs a plan on this machine (the "local" executor of design.md). RunJob runs one
// frozen node with the same code, for executors that run each node as a job elsewhere.
type Executor struct {
	Store *store.Store
	// Experiment identifies the experiment in the store's index (its absolute path).
	Experiment string
	// Jobs is how many nodes may run at once (at least 1). Exclusive stages run one at a
	// time whatever Jobs says, unless Isolate is set.
	Jobs    int
	Device  string // passed to stages: "auto", "cpu", "cuda:N"
	Threads int    // passed to stages (isolated nodes get their share, IsolatedThreads)
	// Isolate, when not nil, runs each Exclusive node in a process of its own, so that
	// up to Jobs of them run at once, each with IsolatedThreads of Threads.
	Isolate IsolateFunc

	// Provenance is copied into every manifest; the executor fills PID, Resumed, Device,
	// Threads, Start and End. The caller sets DmlrunVersion and TorchVersion (the pipeline
	// never loads libtorch itself).
	Provenance store.Provenance

	// Progress returns the progress sink for one node; nil means no progress display.
	Progress func(addr string) stage.Progress
	// Events receives one line per node event ("train.nir[seed=0]: computed in 3.2s"); may
	// be nil.
	Events io.Writer
	// LogEcho, when not nil, returns a writer that also receives a node's log lines (they
	// always go to log.txt in the node's output).
	LogEcho func(addr string) io.Writer

	// Now is the clock for manifest times; nil means time.Now.
	Now func() time.Time

	eventsMu sync.Mutex
}

// IsolateFunc runs frozen node j in another process against the same store (`dmlrun
// run-node`) and returns when that process has ended: nil when it committed the node's
// artifact or found it committed, else why not. Exclusive (libtorch) nodes cannot run
// side by side in one process, because libtorch's random generators and the torch
// package's tensor scopes are process-wide; in processes of their own they can.
type IsolateFunc func(ctx context.Context, j *Job) error

// IsolatedThreads is each isolated node's libtorch thread count: the cores (threads)
// split evenly between the jobs nodes that may run at once, at least one each.
func IsolatedThreads(threads, jobs int) int {
	return max(1, threads/max(jobs, 1))
}

// Status is how a node ended in one apply.
type Status string

const (
	StatusCached   Status = "cached"   // found in the store (possibly computed by another process meanwhile)
	StatusComputed Status = "computed" // ran and committed
	StatusFailed   Status = "failed"   // ran and failed; nothing was committed
	StatusSkipped  Status = "skipped"  // not started: an earlier failure or cancellation stopped scheduling
)

// NodeResult is one node's outcome.
type NodeResult struct {
	Addr     string
	Key      string
	Status   Status
	Resumed  bool
	Dir      string // the artifact directory when cached or computed
	Duration time.Duration
	Err      error
}

// Result is the outcome of Apply, one entry per plan node in plan order.
type Result struct {
	Nodes []NodeResult
}

// NodeError is a node's failure; Error reads "train.nir[seed=1]: <cause>".
type NodeError struct {
	Addr string
	Key  string
	Log  string // where the failed run's log was kept, if anywhere
	Err  error
}

func (e *NodeError) Error() string {
	msg := e.Addr + ": " + e.Err.Error()
	if e.Log != "" {
		msg += " (log: " + e.Log + ")"
	}
	return msg
}
func (e *NodeError) Unwrap() error { return e.Err }

// StalePlanError says a plan no longer matches the graph it is applied to.
type StalePlanError struct {
	Addr, Reason string
}

func (e *StalePlanError) Error() string {
	return fmt.Sprintf("plan is stale: %s: %s; run plan again", e.Addr, e.Reason)
}

// Apply runs the plan's nodes in topological order, up to Jobs at a time. Before each node
// it takes the key's lock and looks the key up again (another process may have computed
// it; its artifact may have been damaged since the plan): a verified hit is used as is,
// anything else runs the stage. The plan's actions and reasons are not consulted; its node
// keys must equal the graph's, else Apply fails with a *StalePlanError before running
// anything.
//
// A plan node whose key is unknown (Node.KeyErr: a stage's KeyInputs hook failed, e.g. a
// missing dataset folder) makes Apply fail at once with that error, before running
// anything.
//
// After a node fails or ctx is cancelled, no new node starts; running ones finish (a
// cancelled context is passed to them) and everything already committed stays in the store.
// The error joins every *NodeError, or wraps ctx's error when cancelled.
func (e *Executor) Apply(ctx context.Context, g *Graph, p *Plan) (*Result, error) {
	nodes, err := g.PlanNodes(p)
	if err != nil {
		return nil, err
	}

	jobs := max(e.Jobs, 1)
	// The tracker hands out each plan node once, when its inputs are done, in plan
	// (topological) order; which ready node starts next (-j, exclusive stages) is decided
	// here.
	tracker := g.NewTracker(nodes)
	ready := tracker.Ready()

	type done struct {
		n   *Node
		res NodeResult
	}
	results := map[*Node]NodeResult{}
	artifacts := map[*Node]*store.Artifact{}
	var artMu sync.Mutex
	finished := make(chan done)
	running, exclusiveRunning := 0, false
	stopping := false
	var errs []error

	for {
		for !stopping && running < jobs {
			i := nextRunnable(ready, exclusiveRunning)
			if i < 0 {
				break
			}
			n := ready[i]
			ready = append(ready[:i:i], ready[i+1:]...)
			running++
			if e.exclusive(n) {
				exclusiveRunning = true
			}
			inputs := make([]*store.Artifact, len(n.Inputs))
			artMu.Lock()
			for k, in := range n.Inputs {
				inputs[k] = artifacts[in.From]
			}
			artMu.Unlock()
			go func() {
				var res NodeResult
				var art *store.Artifact
				if n.Def.Exclusive && e.Isolate != nil {
					res, art = e.runIsolated(ctx, g, n, inputs)
				} else {
					res, art = e.runTask(ctx, e.newTask(g, n, inputs))
				}
				if art != nil {
					artMu.Lock()
					artifacts[n] = art
					artMu.Unlock()
				}
				finished <- done{n, res}
			}()
		}
		if running == 0 {
			break
		}
		var d done
		select {
		case d = <-finished:
		case <-ctx.Done():
			stopping = true
			d = <-finished
		}
		running--
		if e.exclusive(d.n) {
			exclusiveRunning = false
		}
		results[d.n] = d.res
		if d.res.Err != nil {
			stopping = true
			errs = append(errs, d.res.Err)
			continue
		}
		ready = append(ready, tracker.Done(d.n)...)
		sort.SliceStable(ready, func(i, j int) bool { return ready[i].order < ready[j].order })
	}

	res := &Result{}
	for _, n := range nodes {
		r, ok := results[n]
		if !ok {
			r = NodeResult{Addr: n.Addr, Key: n.Key, Status: StatusSkipped}
		}
		res.Nodes = append(res.Nodes, r)
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("apply interrupted: %w", errors.Join(append([]error{err}, errs...)...))
	}
	return res, errors.Join(errs...)
}

// exclusive says whether n must run alone in this process: an Exclusive stage's node,
// unless it runs isolated in a process of its own.
func (e *Executor) exclusive(n *Node) bool { return n.Def.Exclusive && e.Isolate == nil }

// nextRunnable returns the index of the first ready node that may start now: any node
// while no exclusive stage runs, else the first non-exclusive one; -1 when none may.
func nextRunnable(ready []*Node, exclusiveRunning bool) int {
	for i, n := range ready {
		if !n.Def.Exclusive || !exclusiveRunning {
			return i
		}
	}
	return -1
}

func (e *Executor) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Executor) event(format string, args ...any) {
	if e.Events == nil {
		return
	}
	e.eventsMu.Lock()
	defer e.eventsMu.Unlock()
	fmt.Fprintf(e.Events, format+"\n", args...)
}

// task is one node as the executor runs it: everything runTask needs, whether it comes from
// a graph (Apply) or from a frozen Job (RunJob), so that both run a node through the same
// code: lock, Get, Begin, Run, Commit.
type task struct {
	addr, kind, key string
	def             *stage.Def
	params          stage.Params
	keyInputs       string
	inputs          []stage.Input    // with Dir, Param and Ancestors filled, in the order written
	refs            []store.InputRef // the manifest's and the index's inputs

	experiment string // the index entry to record ("" records none)
	device     string
	threads    int
	cpus       int // stage.Context.CPUs
}

// newTask describes graph node n, whose inputs' artifacts are inputs (all present).
func (e *Executor) newTask(g *Graph, n *Node, inputs []*store.Artifact) *task {
	t := &task{addr: n.Addr, kind: n.Kind, key: n.Key, def: n.Def, params: n.Params, keyInputs: n.KeyInputs, refs: inputRefs(n),
		experiment: e.Experiment, device: e.Device, threads: e.Threads}
	for i, in := range n.Inputs {
		si := g.stageInput(in)
		si.Dir = inputs[i].Dir
		t.inputs = append(t.inputs, si)
	}
	return t
}

// stageInput describes the input of edge in to a stage, with the nearest ancestors of every
// kind (without its directory).
func (g *Graph) stageInput(in Edge) stage.Input {
	si := nodeInput(in.From)
	si.Param = in.Param
	for _, ns := range g.LineageOf(in.From, g.kinds()...) {
		for _, a := range ns {
			si.Ancestors = append(si.Ancestors, nodeInput(a))
		}
	}
	return si
}

// runTask computes or finds one node.
func (e *Executor) runTask(ctx context.Context, t *task) (NodeResult, *store.Artifact) {
	res := NodeResult{Addr: t.addr, Key: t.key}
	fail := func(err error) (NodeResult, *store.Artifact) {
		res.Status = StatusFailed
		if res.Err == nil {
			res.Err = &NodeError{Addr: t.addr, Key: t.key, Err: err}
		}
		e.event("%s: failed: %v", t.addr, err)
		return res, nil
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	unlock, err := e.Store.Lock(ctx, t.key, func(h store.LockInfo) {
		e.event("%s: waiting: key %s… is locked by %s", t.addr, t.key[:12], h)
	})
	if err != nil {
		return fail(err)
	}
	defer unlock()

	if art, err := e.Store.Get(t.key); err == nil {
		res.Status, res.Dir = StatusCached, art.Dir
		e.record(t)
		return res, art
	} else if me := (*store.MissError)(nil); errors.As(err, &me) && !me.Absent {
		e.event("%s: %s; computing it again", t.addr, me.Reason)
	}

	// The typed config is decoded before anything is written, so that parameters the stage
	// rejects cost no temporary directory and no run.
	config, err := decodeConfig(t.kind, t.def, t.params)
	if err != nil {
		return fail(err)
	}
	txn, err := e.Store.Begin(t.key, t.def.Resumable)
	if err != nil {
		return fail(err)
	}
	res.Resumed = txn.Resumed
	verb := "running"
	if txn.Resumed {
		verb = "resuming"
	}
	e.event("%s: %s (key %s…)", t.addr, verb, t.key[:12])

	start := e.now()
	runErr := e.runStage(ctx, t, txn, config)
	end := e.now()
	res.Duration = end.Sub(start)
	if runErr != nil {
		logCopy := e.keepFailedLog(t, txn.Dir)
		if err := txn.Abort(); err != nil {
			runErr = errors.Join(runErr, fmt.Errorf("clean up: %w", err))
		}
		res.Err = &NodeError{Addr: t.addr, Key: t.key, Log: logCopy, Err: runErr}
		return fail(runErr)
	}

	m := &store.Manifest{
		Stage:        t.kind,
		StageVersion: t.def.Version,
		Addr:         t.addr,
		Params:       jsonSafe(map[string]any(t.params)).(map[string]any),
		Inputs:       t.refs,
		KeyInputs:    t.keyInputs,
		Provenance:   e.Provenance,
	}
	m.Provenance.PID = os.Getpid()
	m.Provenance.Device = t.device
	m.Provenance.Threads = t.threads
	m.Provenance.Resumed = txn.Resumed
	m.Provenance.Start, m.Provenance.End = start.UTC(), end.UTC()
	if m.Provenance.Host == "" {
		m.Provenance.Host = e.Store.Host()
	}
	art, err := txn.Commit(m)
	if err != nil {
		return fail(err)
	}
	res.Status, res.Dir = StatusComputed, art.Dir
	e.event("%s: computed in %s", t.addr, res.Duration.Round(time.Millisecond))
	e.record(t)
	return res, art
}

// decodeConfig returns the stage's typed config for a node's parameters (Def.Decode; nil for a
// stage without one). spec decodes every node when the file is validated and reports the
// problems at their source, so problems here mean the parameters did not come through
// validation (a hand-built graph) or the stage's Decode disagrees with its own schema: a
// bug, reported as the node's error. A panic in Decode (DecodeParams panics on a value of
// the wrong Go type) is such a bug too.
func decodeConfig(kind string, def *stage.Def, params stage.Params) (config any, err error) {
	if def.Decode == nil {
		return nil, nil
	}
	defer func() {
		if r := recover(); r != nil {
			config, err = nil, fmt.Errorf("stage %s: decoding the parameters panicked (a bug in the stage, or parameters that did not come from spec): %v", kind, r)
		}
	}()
	config, probs := def.Decode(params)
	if len(probs) > 0 {
		return nil, fmt.Errorf("stage %s rejects the parameters (validate reports these at their source, so this is a bug in the stage or parameters that did not come from spec): %w", kind, probs.Err())
	}
	return config, nil
}

// runStage calls the stage with its Context, turning a panic into an error (a stage bug
// must not take finished siblings down with it).
func (e *Executor) runStage(ctx context.Context, t *task, txn *store.Txn, config any) (err error) {
	logf, err := os.OpenFile(filepath.Join(txn.Dir, "log.txt"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	var log io.Writer = logf
	if e.LogEcho != nil {
		if w := e.LogEcho(t.addr); w != nil {
			log = io.MultiWriter(logf, w)
		}
	}
	var prog stage.Progress = nopProgress{}
	if e.Progress != nil {
		if p := e.Progress(t.addr); p != nil {
			prog = p
		}
	}
	sc := &stage.Context{
		Context:  ctx,
		Addr:     t.addr,
		Key:      t.key,
		Params:   t.params,
		OutDir:   txn.Dir,
		Resumed:  txn.Resumed,
		Log:      &syncWriter{w: log},
		Progress: prog,
		Device:   t.device,
		Threads:  t.threads,
		CPUs:     t.cpus,
		Config:   config,
		Inputs:   t.inputs,

		KeyInputs: t.keyInputs,
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("stage %s panicked (a bug in the stage): %v\n%s", t.kind, r, debug.Stack())
		}
		if cerr := logf.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close log: %w", cerr)
		}
	}()
	return t.def.Run(sc)
}

// nodeInput describes a node to a stage (without its directory and parameter name).
func nodeInput(n *Node) stage.Input {
	return stage.Input{Addr: n.Addr, Block: n.Name, Instance: n.Address.Instance, Stage: n.Kind, Key: n.Key, Params: n.Params}
}

// keepFailedLog has the store keep a failed run's log.txt (store.KeepFailedLog), so that
// removing the output does not remove the explanation; it returns where, or "".
func (e *Executor) keepFailedLog(t *task, dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "log.txt"))
	if err != nil || len(b) == 0 {
		return ""
	}
	name, err := e.Store.KeepFailedLog(t.key, b)
	if err != nil {
		e.event("%s: warning: %v", t.addr, err)
		return ""
	}
	return name
}

func (e *Executor) record(t *task) {
	if t.experiment == "" {
		return
	}
	entry := store.IndexEntry{
		Key: t.key, Stage: t.kind, StageVersion: t.def.Version,
		Params: FlatParams(t.params), Inputs: t.refs, KeyInputs: t.keyInputs, Time: e.now().UTC(),
	}
	if err := e.Store.RecordIndex(t.experiment, map[string]store.IndexEntry{t.addr: entry}); err != nil {
		// The index only explains re-runs; losing an entry must not fail the node.
		e.event("%s: warning: %v", t.addr, err)
	}
}

func inputRefs(n *Node) []store.InputRef {
	refs := []store.InputRef{}
	for _, in := range n.Inputs {
		refs = append(refs, store.InputRef{Param: in.Param, Addr: in.From.Addr, Key: in.From.Key})
	}
	return refs
}

// jsonSafe copies parameter values, turning non-finite floats (which JSON cannot hold)
// into strings, for the manifest.
func jsonSafe(v any) any {
	fix := func(f float64) any {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return formatFloat(f)
		}
		return f
	}
	switch v := v.(type) {
	case stage.Params:
		return jsonSafe(map[string]any(v))
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = jsonSafe(x)
		}
		return out
	case map[string]float64:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = fix(x)
		}
		return out
	case []float64:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = fix(x)
		}
		return out
	case float64:
		return fix(v)
	}
	return v
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

type nopProgress struct{}

func (nopProgress) Start(string, int64) stage.Bar { return nopBar{} }

type nopBar struct{}

func (nopBar) Add(int64)        {}
func (nopBar) SetStatus(string) {}
func (nopBar) Finish()          {}
