package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"dmlrun/stage"
	"dmlrun/store"
)

// JobFormat is the version of the Job layout written by this package; ReadJob refuses
// others.
const JobFormat = 1

// Job is one node frozen for running in another process, usually on another machine of a
// cluster (`dmlrun run-node`): everything Executor.RunJob needs without the experiment
// file, its variables or the external content its keys were computed from. The head
// process that built the graph writes it (Graph.Job, EncodeJob); the job reads it
// (DecodeJob) and runs it against the same store.
//
// It holds the key material (stage, stage version, parameters, key inputs, input keys and
// addresses), so RunJob recomputes the key from it before running anything: a job frozen by
// another dmlrun build (another stage version) or edited by hand is refused, never run under
// a key that does not describe it.
type Job struct {
	Format int `json:"format"`
	// Experiment identifies the experiment in the store's index (its absolute path on the
	// head); "" records no index entry.
	Experiment   string         `json:"experiment,omitempty"`
	Addr         string         `json:"addr"`
	Stage        string         `json:"stage"`
	StageVersion int            `json:"stage_version"`
	Key          string         `json:"key"`
	Params       map[string]any `json:"params"` // as a manifest holds them (non-finite floats as strings)
	KeyInputs    string         `json:"key_inputs,omitempty"`
	Inputs       []JobInput     `json:"inputs"` // in the order written
	Device       string         `json:"device"`
	Threads      int            `json:"threads,omitempty"` // 0: the job decides (its CPUs)
	CPUs         int            `json:"cpus,omitempty"`    // stage.Context.CPUs (0: all the job's)
}

// JobInput is one input of a Job: what stage.Input says of it, and for each stage kind
// upstream the nearest nodes of that kind (stage.Input.Ancestors, without their own
// ancestors). Its directory is found in the store by Key when the job runs.
type JobInput struct {
	Param     string         `json:"param,omitempty"` // "" for an ancestor
	Addr      string         `json:"addr"`
	Block     string         `json:"block"`
	Instance  string         `json:"instance,omitempty"`
	Stage     string         `json:"stage"`
	Key       string         `json:"key"`
	Params    map[string]any `json:"params"`
	Ancestors []JobInput     `json:"ancestors,omitempty"`
}

// JobOptions are the settings a Job carries besides the node itself.
type JobOptions struct {
	Experiment string
	Device     string
	Threads    int
	CPUs       int
}

// Job freezes node n of g. It fails when n has no key (Node.KeyErr).
func (g *Graph) Job(n *Node, o JobOptions) (*Job, error) {
	if n.KeyErr != nil {
		return nil, n.KeyErr
	}
	if g.Node(n.Addr) != n {
		panic("pipeline.Graph.Job: node " + n.Addr + " is not a node of this graph (a bug in the caller)")
	}
	j := &Job{
		Format: JobFormat, Experiment: o.Experiment, Addr: n.Addr, Stage: n.Kind, StageVersion: n.Def.Version,
		Key: n.Key, Params: jsonSafe(map[string]any(n.Params)).(map[string]any), KeyInputs: n.KeyInputs,
		Inputs: []JobInput{}, Device: o.Device, Threads: o.Threads, CPUs: o.CPUs,
	}
	for _, in := range n.Inputs {
		si := g.stageInput(in)
		ji := jobInput(si)
		for _, a := range si.Ancestors {
			ji.Ancestors = append(ji.Ancestors, jobInput(a))
		}
		j.Inputs = append(j.Inputs, ji)
	}
	return j, nil
}

func jobInput(si stage.Input) JobInput {
	return JobInput{Param: si.Param, Addr: si.Addr, Block: si.Block, Instance: si.Instance, Stage: si.Stage, Key: si.Key,
		Params: jsonSafe(si.Params).(map[string]any)}
}

// EncodeJob renders a job as indented JSON with a trailing newline.
func EncodeJob(j *Job) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(j); err != nil {
		return nil, fmt.Errorf("encode job %s: %w", j.Addr, err)
	}
	return buf.Bytes(), nil
}

// DecodeJob parses a job file: one JSON object of this format, no unknown fields, a valid
// key. Numbers stay json.Number until RunJob reads them through the stages' schemas.
func DecodeJob(data []byte) (*Job, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	var j Job
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("job: %w", err)
	}
	if dec.More() {
		return nil, errors.New("job: trailing data after the JSON object")
	}
	if j.Format != JobFormat {
		return nil, fmt.Errorf("job: format %d, this dmlrun reads format %d (run the same dmlrun build on the head and in the jobs)", j.Format, JobFormat)
	}
	if !store.ValidKey(j.Key) {
		return nil, fmt.Errorf("job: key %q is not 64 lower-case hex digits", j.Key)
	}
	for _, in := range j.Inputs {
		if !store.ValidKey(in.Key) {
			return nil, fmt.Errorf("job: input %s: key %q is not 64 lower-case hex digits", in.Addr, in.Key)
		}
	}
	return &j, nil
}

// JobError says a job cannot run as frozen: its stage or stage version is not this
// program's, its key material does not hash to its key, or an input is not in the store.
// Nothing was run. Running it again does not help (a retry would fail the same way) unless
// Retry is set: an input missing from the store may be there later.
type JobError struct {
	Addr  string
	Err   error
	Retry bool
}

func (e *JobError) Error() string { return "job " + e.Addr + ": " + e.Err.Error() }
func (e *JobError) Unwrap() error { return e.Err }

// RunJob runs a frozen node through the same code as Apply runs each node: the key's lock,
// a Get (another process may have computed it: then it is cached), Begin (resuming a
// resumable stage's partial output), the stage's Run with its typed config, Commit, and the
// index entry. The job's Experiment, Device and Threads are used in place of e's; e's
// Store, Provenance (this process's dmlrun and libtorch versions), Events, LogEcho,
// Progress and Now are used as Apply uses them.
//
// Before that it checks the job against this program (a *JobError, nothing run): its stage
// and stage version must be this dmlrun's, its key material must hash to its key (the same
// check Store.ManifestKey makes of a manifest), and every input must be a verified
// artifact in the store. The returned error is the NodeResult's Err (a *NodeError) when
// the node ran and failed.
func (e *Executor) RunJob(ctx context.Context, stages *stage.Registry, j *Job) (NodeResult, error) {
	t, err := e.jobTask(stages, j)
	if err != nil {
		return NodeResult{Addr: j.Addr, Key: j.Key, Status: StatusFailed, Err: err}, err
	}
	res, _ := e.runTask(ctx, t)
	return res, res.Err
}

func (e *Executor) jobTask(stages *stage.Registry, j *Job) (*task, error) {
	bad := func(retry bool, format string, args ...any) error {
		return &JobError{Addr: j.Addr, Err: fmt.Errorf(format, args...), Retry: retry}
	}
	def, ok := stages.Lookup(j.Stage)
	if !ok {
		return nil, bad(false, "stage %q is not a stage of this dmlrun (stages: %v); run the head's dmlrun build in the jobs", j.Stage, stages.Kinds())
	}
	if def.Version != j.StageVersion {
		return nil, bad(false, "frozen by a dmlrun with stage %s version %d, this dmlrun has version %d; run the head's dmlrun build in the jobs", j.Stage, j.StageVersion, def.Version)
	}
	params, err := manifestParams(def, j.Params)
	if err != nil {
		return nil, bad(false, "params do not fit stage %s version %d: %w", j.Stage, def.Version, err)
	}
	t := &task{addr: j.Addr, kind: j.Stage, key: j.Key, def: def, params: stage.Params(params), keyInputs: j.KeyInputs,
		refs: []store.InputRef{}, experiment: j.Experiment, device: j.Device, threads: j.Threads, cpus: j.CPUs}
	for _, in := range j.Inputs {
		t.refs = append(t.refs, store.InputRef{Param: in.Param, Addr: in.Addr, Key: in.Key})
	}
	m := &store.Manifest{Stage: j.Stage, StageVersion: j.StageVersion, Addr: j.Addr, Params: j.Params, Inputs: t.refs, KeyInputs: j.KeyInputs}
	if key, err := ManifestKey(stages, m); err != nil {
		return nil, bad(false, "key material: %w", err)
	} else if key != j.Key {
		return nil, bad(false, "key material hashes to %s…, not the job's key %s… (the job file was changed, or frozen by another dmlrun build)", key[:12], j.Key[:12])
	}
	for _, in := range j.Inputs {
		si, err := stageInputOf(stages, in)
		if err != nil {
			return nil, bad(false, "input %s: %w", in.Addr, err)
		}
		art, err := e.Store.Get(in.Key)
		if err != nil {
			return nil, bad(true, "input %s (key %s…) is not usable in the store %s: %w", in.Addr, in.Key[:12], e.Store.Dir(), err)
		}
		si.Dir = art.Dir
		for _, a := range in.Ancestors {
			sa, err := stageInputOf(stages, a)
			if err != nil {
				return nil, bad(false, "input %s: ancestor %s: %w", in.Addr, a.Addr, err)
			}
			si.Ancestors = append(si.Ancestors, sa)
		}
		t.inputs = append(t.inputs, si)
	}
	return t, nil
}

// stageInputOf reads a JobInput back through its stage's schema (without Dir and
// Ancestors).
func stageInputOf(stages *stage.Registry, in JobInput) (stage.Input, error) {
	def, ok := stages.Lookup(in.Stage)
	if !ok {
		return stage.Input{}, fmt.Errorf("stage %q is not a stage of this dmlrun", in.Stage)
	}
	params, err := manifestParams(def, in.Params)
	if err != nil {
		return stage.Input{}, fmt.Errorf("params do not fit stage %s: %w", in.Stage, err)
	}
	return stage.Input{Param: in.Param, Addr: in.Addr, Block: in.Block, Instance: in.Instance, Stage: in.Stage, Key: in.Key, Params: params}, nil
}
