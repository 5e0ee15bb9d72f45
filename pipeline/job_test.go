package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"dmlrun/stage"
	"dmlrun/store"
)

// Job test stages declare every parameter they get (a Job's parameters are read back
// through the stage's schema, as a manifest's are): jsrc makes data, jtrain (resumable)
// reads it, jrep reads trainings and writes what it was told about its inputs.
var (
	jobSeenMu sync.Mutex
	jobSeen   = map[string][]stage.Input{} // addr -> the Inputs its last run got (Dirs cleared)
)

func jobDefs() []*stage.Def {
	seen := func(c *stage.Context) {
		ins := make([]stage.Input, len(c.Inputs))
		for i, in := range c.Inputs {
			in.Dir = ""
			ins[i] = in
		}
		jobSeenMu.Lock()
		jobSeen[c.Addr] = ins
		jobSeenMu.Unlock()
	}
	write := func(c *stage.Context, name, text string) error {
		return os.WriteFile(filepath.Join(c.OutDir, name), []byte(text), 0o644)
	}
	return []*stage.Def{
		{Kind: "jsrc", Version: 3, Params: []stage.Param{{Name: "n", Type: stage.Int, Default: int64(1)}, {Name: "scale", Type: stage.Float, Default: 0.5}},
			Run: func(c *stage.Context) error {
				if err := logRun(c); err != nil {
					return err
				}
				seen(c)
				return write(c, "data.txt", fmt.Sprint(c.Params.Int("n"), c.Params.Float("scale")))
			}},
		{Kind: "jtrain", Version: 2, Resumable: true, Params: []stage.Param{
			{Name: "dataset", Type: stage.Ref, RefKind: "jsrc"},
			{Name: "seed", Type: stage.Int, Default: int64(0)},
			{Name: "clip", Type: stage.Float, Default: math.Inf(1)},
			{Name: "schedule", Type: stage.Object, Fields: []stage.Param{{Name: "epochs", Type: stage.Int, Default: int64(2)}, {Name: "lr", Type: stage.Float, Default: 1e-3}}},
		}, Run: func(c *stage.Context) error {
			if err := logRun(c); err != nil {
				return err
			}
			seen(c)
			data, err := os.ReadFile(filepath.Join(c.InputsOf("dataset")[0].Dir, "data.txt"))
			if err != nil {
				return err
			}
			return write(c, "model.txt", fmt.Sprintf("model(%s seed=%d clip=%v lr=%v resumed=%v)", data, c.Params.Int("seed"),
				c.Params.Float("clip"), c.Params.Object("schedule").Float("lr"), c.Resumed))
		}},
		{Kind: "jrep", Version: 1, InputAddressesInKey: true, Params: []stage.Param{{Name: "from", Type: stage.RefList, RefKind: "jtrain"}},
			Run: func(c *stage.Context) error {
				if err := logRun(c); err != nil {
					return err
				}
				seen(c)
				var rows []string
				for _, in := range c.Inputs {
					var anc []string
					for _, a := range in.Ancestors {
						anc = append(anc, a.Addr)
					}
					rows = append(rows, in.Addr+" <- "+strings.Join(anc, ","))
				}
				return write(c, "table.txt", strings.Join(rows, "\n"))
			}},
	}
}

func jobExperiment() []Decl {
	d := []Decl{{Addr: "jsrc.d", Params: stage.Params{"n": int64(7), "scale": 0.25}}}
	for _, seed := range []int64{0, 1} {
		d = append(d, Decl{Addr: fmt.Sprintf("jtrain.t[seed=%d]", seed),
			Params: stage.Params{"seed": seed, "clip": math.Inf(1), "schedule": map[string]any{"epochs": int64(2), "lr": 1e-3}},
			Inputs: []DeclRef{{Param: "dataset", Target: "jsrc.d"}}})
	}
	d = append(d, Decl{Addr: "jrep.r", Params: stage.Params{},
		Inputs: []DeclRef{{Param: "from", Target: "jtrain.t[seed=0]"}, {Param: "from", Target: "jtrain.t[seed=1]"}}})
	return d
}

// runAsJobs runs every node of g through Graph.Job, EncodeJob, DecodeJob and RunJob, in
// topological order, as separate jobs would.
func (e *env) runAsJobs(g *Graph) []NodeResult {
	e.t.Helper()
	var out []NodeResult
	for _, n := range g.Nodes {
		j, err := g.Job(n, JobOptions{Experiment: e.exp, Device: "cpu", Threads: 1})
		if err != nil {
			e.t.Fatal(err)
		}
		b, err := EncodeJob(j)
		if err != nil {
			e.t.Fatal(err)
		}
		j2, err := DecodeJob(b)
		if err != nil {
			e.t.Fatalf("%s: %v\n%s", n.Addr, err, b)
		}
		res, err := e.executor().RunJob(context.Background(), e.stages, j2)
		if err != nil {
			e.t.Fatalf("%s: %v", n.Addr, err)
		}
		out = append(out, res)
	}
	return out
}

func storeFiles(t *testing.T, st *store.Store, key string) []store.File {
	t.Helper()
	art, err := st.Get(key)
	if err != nil {
		t.Fatal(err)
	}
	return art.Manifest.Files
}

// A node run from its frozen Job gets what the local executor gives it (inputs, their
// ancestors, parameters with non-finite floats) and commits the same files under the same
// key, with the same index entries.
func TestRunJobMatchesLocalApply(t *testing.T) {
	local, jobs := newEnv(t), newEnv(t)
	jobs.exp = local.exp
	g := local.build(jobExperiment())
	if _, err := local.apply(g); err != nil {
		t.Fatal(err)
	}
	want := map[string][]stage.Input{}
	jobSeenMu.Lock()
	for k, v := range jobSeen {
		want[k] = v
	}
	clear(jobSeen)
	jobSeenMu.Unlock()

	for _, r := range jobs.runAsJobs(g) {
		if r.Status != StatusComputed {
			t.Errorf("%s: %s, want computed", r.Addr, r.Status)
		}
	}
	jobSeenMu.Lock()
	got := jobSeen
	jobSeenMu.Unlock()
	for _, n := range g.Nodes {
		if !reflect.DeepEqual(got[n.Addr], want[n.Addr]) {
			t.Errorf("%s: inputs as a job\n%#v\nlocally\n%#v", n.Addr, got[n.Addr], want[n.Addr])
		}
		if a, b := storeFiles(t, local.st, n.Key), storeFiles(t, jobs.st, n.Key); !reflect.DeepEqual(a, b) {
			t.Errorf("%s: files as a job %v, locally %v", n.Addr, b, a)
		}
	}
	li, ji := local.st.ReadIndex(local.exp), jobs.st.ReadIndex(local.exp)
	for addr, le := range li.Nodes {
		je := ji.Nodes[addr]
		je.Time = le.Time // when it ran is not what it is
		if !reflect.DeepEqual(le, je) {
			t.Errorf("index entry of %s: as a job %+v, locally %+v", addr, je, le)
		}
	}
	if len(li.Nodes) != len(ji.Nodes) || len(li.Nodes) != len(g.Nodes) {
		t.Errorf("index: %d entries as jobs, %d locally, want %d", len(ji.Nodes), len(li.Nodes), len(g.Nodes))
	}
	// Run again: every job finds its key in the store.
	for _, r := range jobs.runAsJobs(g) {
		if r.Status != StatusCached {
			t.Errorf("second run: %s: %s, want cached", r.Addr, r.Status)
		}
	}
}

// A resumable stage's job resumes from the partial output an interrupted attempt left.
func TestRunJobResumes(t *testing.T) {
	e := newEnv(t)
	g := e.build(jobExperiment())
	if _, err := e.apply(g, "jsrc.d"); err != nil {
		t.Fatal(err)
	}
	n := g.Node("jtrain.t[seed=0]")
	setFail(n.Addr, errors.New("preempted"))
	j, err := g.Job(n, JobOptions{Device: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.executor().RunJob(context.Background(), e.stages, j); err == nil || !strings.Contains(err.Error(), "preempted") {
		t.Fatalf("first attempt: %v, want the stage's error", err)
	}
	if !e.st.HasPartial(n.Key) {
		t.Fatal("the failed attempt of a resumable stage left no partial output")
	}
	setFail(n.Addr, nil)
	res, err := e.executor().RunJob(context.Background(), e.stages, j)
	if err != nil || !res.Resumed || res.Status != StatusComputed {
		t.Fatalf("second attempt: %+v, %v; want computed and resumed", res, err)
	}
}

// A job that does not fit this program, or whose input is missing, is refused before
// anything runs, with an error that says why.
func TestRunJobRefuses(t *testing.T) {
	e := newEnv(t)
	g := e.build(jobExperiment())
	if _, err := e.apply(g, "jsrc.d"); err != nil {
		t.Fatal(err)
	}
	freeze := func(addr string) *Job {
		j, err := g.Job(g.Node(addr), JobOptions{Device: "cpu"})
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	cases := []struct {
		name  string
		job   func() *Job
		want  string
		retry bool
	}{
		{"unknown stage", func() *Job { j := freeze("jsrc.d"); j.Stage = "nosuch"; return j }, `stage "nosuch" is not a stage of this dmlrun`, false},
		{"other stage version", func() *Job { j := freeze("jsrc.d"); j.StageVersion = 2; return j }, "version 2, this dmlrun has version 3", false},
		{"edited parameter", func() *Job { j := freeze("jsrc.d"); j.Params["n"] = int64(8); return j }, "key material hashes to", false},
		{"parameter outside the schema", func() *Job { j := freeze("jsrc.d"); j.Params["nosuch"] = 1; return j }, "params do not fit stage jsrc", false},
		{"edited input key", func() *Job {
			j := freeze("jtrain.t[seed=0]")
			j.Inputs[0].Key = strings.Repeat("a", 64)
			return j
		}, "key material hashes to", false},
		{"input not in the store", func() *Job { return freeze("jrep.r") }, "input jtrain.t[seed=0] (key", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			os.Remove(e.runlog)
			j := c.job()
			res, err := e.executor().RunJob(context.Background(), e.stages, j)
			var je *JobError
			if !errors.As(err, &je) || !strings.Contains(err.Error(), c.want) || je.Retry != c.retry {
				t.Fatalf("RunJob: %v (retry %v), want a *JobError containing %q (retry %v)", err, je != nil && je.Retry, c.want, c.retry)
			}
			if res.Status != StatusFailed {
				t.Errorf("status %s, want failed", res.Status)
			}
			if runs := e.runs(); len(runs) > 0 {
				t.Errorf("ran %v", runs)
			}
		})
	}
}

func TestDecodeJobRefuses(t *testing.T) {
	g := newEnv(t).build(jobExperiment())
	j, err := g.Job(g.Node("jrep.r"), JobOptions{})
	if err != nil {
		t.Fatal(err)
	}
	good, err := EncodeJob(j)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeJob(good); err != nil {
		t.Fatalf("the encoded job does not decode: %v", err)
	}
	s := string(good)
	cases := []struct{ name, data, want string }{
		{"not JSON", "{", "job: unexpected EOF"},
		{"unknown field", strings.Replace(s, `"format"`, `"extra": 1, "format"`, 1), `unknown field "extra"`},
		{"other format", strings.Replace(s, `"format": 1`, `"format": 9`, 1), "format 9, this dmlrun reads format 1"},
		{"bad key", strings.Replace(s, j.Key, "xyz", 1), `key "xyz" is not 64`},
		{"bad input key", strings.Replace(s, j.Inputs[1].Key, "abc", 1), `input jtrain.t[seed=1]: key "abc"`},
		{"trailing data", s + "{}", "trailing data"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := DecodeJob([]byte(c.data)); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("DecodeJob: %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestJobOfUnkeyedNode(t *testing.T) {
	e := newEnv(t)
	g, err := Build(e.stages, []Decl{{Addr: "mksrc.a", Params: stage.Params{"content": "x"}}}, BuildOptions{
		KeyInputs: func(string, stage.Params) (string, error) { return "", errors.New("folder missing") }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Job(g.Node("mksrc.a"), JobOptions{}); err == nil || !strings.Contains(err.Error(), "folder missing") {
		t.Fatalf("Job of a node without a key: %v, want its key error", err)
	}
}
