package slurm

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"

	"dmlrun/store"
)

// What a run leaves in the store, under jobs/<run>/ (<run> is the run's Slurm job name):
//
//	run.json                 the Record: the experiment, and every job submitted with its
//	                         node, key and attempt (what `dmlrun plan` shows)
//	s<N>/job.sh              submission N's batch script
//	s<N>/<task>.json         the frozen node (pipeline.Job) that array task <task> runs (0
//	                         for a single job)
//	s<N>/<task>.out          the job's output (sbatch --output; kept as the node's failed
//	                         log when it fails)
//	s<N>/<task>.outcome.json what run-node says of the attempt (Outcome)
//
// The head that made the run writes run.json (write-temp and rename: readers never see half
// a file); jobs write only their output and outcome. An attached run's folder is removed
// when its head finishes; a detached run's when a later apply finds every node of it in the
// store.
//
// jobs/ is the store's own folder (store.Store.JobsDir makes it and refuses a link there),
// so cache verify and cache gc leave it alone; Prune removes the folders of finished runs.

// RecordFormat is the version of run.json's layout.
const RecordFormat = 1

// Record is run.json.
type Record struct {
	Format     int       `json:"format"`
	Run        string    `json:"run"`        // the Slurm job name of every job of the run
	Experiment string    `json:"experiment"` // the experiment's id in the store's index (absolute path)
	Display    string    `json:"display"`    // the experiment as the command line named it
	Host       string    `json:"host"`       // where the head ran
	PID        int       `json:"pid"`
	Started    time.Time `json:"started"`
	Detached   bool      `json:"detached,omitempty"`
	// Finished: the head has seen every job of the run end (or cancelled them).
	Finished bool        `json:"finished,omitempty"`
	Jobs     []JobRecord `json:"jobs"`
}

// JobRecord is one node's job in a run: one attempt. A retried node has one per attempt;
// the last is the one that counts.
type JobRecord struct {
	ID         JobID     `json:"id"` // "123" or "123_4"
	Addr       string    `json:"addr"`
	Key        string    `json:"key"`
	Attempt    int       `json:"attempt"`    // 1 for the first submission
	Submission int       `json:"submission"` // N of s<N>/
	Task       int       `json:"task"`
	Submitted  time.Time `json:"submitted"`
}

// jobsDir is where runs keep their files (see above).
func jobsDir(st *store.Store) string { return filepath.Join(st.Dir(), "jobs") }

// runDir is one run's folder.
func runDir(st *store.Store, run string) string { return filepath.Join(jobsDir(st), run) }

// jobFile, outFile and outcomeFile name the files of one task of a submission.
func subDir(st *store.Store, run string, sub int) string {
	return filepath.Join(runDir(st, run), fmt.Sprintf("s%d", sub))
}
func jobFile(dir string, task int) string { return filepath.Join(dir, fmt.Sprintf("%d.json", task)) }
func outFile(dir string, task int) string { return filepath.Join(dir, fmt.Sprintf("%d.out", task)) }
func outcomeFile(dir string, task int) string {
	return filepath.Join(dir, fmt.Sprintf("%d.outcome.json", task))
}

var runNameRE = regexp.MustCompile(`^dmlrun-[a-z0-9_-]+-[0-9a-f]{6}$`)

// NewRunName returns a fresh job name for a run of the experiment at path:
// "dmlrun-<file name>-<6 random hex digits>".
func NewRunName(path string) string {
	base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	var b strings.Builder
	for _, r := range strings.ToLower(base) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 24 {
			break
		}
	}
	name := b.String()
	if name == "" {
		name = "exp"
	}
	var rnd [3]byte
	_, _ = rand.Read(rnd[:])
	return "dmlrun-" + name + "-" + hex.EncodeToString(rnd[:])
}

// writeFileAtomic writes data to a temporary sibling and renames it over name, so that a
// reader sees the old or the new content, never a part.
func writeFileAtomic(name string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(name), filepath.Base(name)+".*.tmp")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

func writeRecord(st *store.Store, r *Record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(runDir(st, r.Run), "run.json"), append(b, '\n')); err != nil {
		return fmt.Errorf("record the run's jobs: %w", err)
	}
	return nil
}

func readRecord(path string) (*Record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if r.Format != RecordFormat {
		return nil, fmt.Errorf("%s: format %d, this dmlrun reads %d", path, r.Format, RecordFormat)
	}
	return &r, nil
}

// Records returns the records of every run in the store whose head has not marked it
// finished, oldest first; experiment, when not "", keeps only that experiment's. Records
// that cannot be read are skipped (problems says which and why).
func Records(st *store.Store, experiment string) (recs []*Record, problems []string) {
	ents, err := os.ReadDir(jobsDir(st))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			problems = append(problems, err.Error())
		}
		return nil, problems
	}
	for _, e := range ents {
		if !e.IsDir() || !runNameRE.MatchString(e.Name()) {
			continue
		}
		r, err := readRecord(filepath.Join(jobsDir(st), e.Name(), "run.json"))
		switch {
		case errors.Is(err, os.ErrNotExist):
			continue // a head that is still writing its first record
		case err != nil:
			problems = append(problems, err.Error())
			continue
		case r.Finished || (experiment != "" && r.Experiment != experiment):
			continue
		}
		recs = append(recs, r)
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Started.Before(recs[j].Started) })
	return recs, problems
}

// latest returns, per key, the last job the record has for it.
func (r *Record) latest() map[string]JobRecord {
	m := map[string]JobRecord{}
	for _, j := range r.Jobs {
		m[j.Key] = j
	}
	return m
}

// Outcome is what run-node writes when it ends an attempt (s<N>/<task>.outcome.json). The
// store alone says whether a node is done; the outcome says why it is not (for the head's
// retry decision and the user), where it ran (for --exclude) and when it started (the
// benchmark's submit-to-start latency).
type Outcome struct {
	Addr    string `json:"addr"`
	Key     string `json:"key"`
	JobID   string `json:"job_id"` // $SLURM_JOB_ID
	Host    string `json:"host"`
	Status  string `json:"status"` // computed, cached, failed, requeued, stopped
	Resumed bool   `json:"resumed,omitempty"`
	Error   string `json:"error,omitempty"`
	// Permanent: running the job again fails the same way (it does not fit this dmlrun).
	Permanent bool          `json:"permanent,omitempty"`
	Started   time.Time     `json:"started"`
	Duration  time.Duration `json:"duration_ns"`
}

// Outcome statuses.
const (
	OutcomeComputed = "computed"
	OutcomeCached   = "cached"
	OutcomeFailed   = "failed"
	// OutcomeRequeued: the job got the pre-limit signal, the node stopped at a step boundary
	// with its checkpoint kept, and the job put itself back into the queue.
	OutcomeRequeued = "requeued"
	// OutcomeStopped: as requeued, but Slurm refused the requeue: the head submits the
	// node again (it resumes from the checkpoint); without a head (--detach) the node is
	// left for the next apply.
	OutcomeStopped = "stopped"
)

// ReadOutcome reads the outcome file name (OutcomeFile), nil when it is missing or not
// one (the attempt died before writing it).
func ReadOutcome(name string) *Outcome {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil
	}
	var o Outcome
	if json.Unmarshal(b, &o) != nil {
		return nil
	}
	return &o
}

func writeOutcome(name string, o *Outcome) error {
	b, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(name, append(b, '\n'))
}

// tailOf returns the last max bytes of a file ("" when it cannot be read), cut at a line
// start.
func tailOf(name string, max int) string {
	b, err := os.ReadFile(name)
	if err != nil {
		return ""
	}
	if len(b) > max {
		b = b[len(b)-max:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}

// NodeJob is what a live run's record and squeue say of one node's job.
type NodeJob struct {
	Run      string
	ID       JobID
	Attempt  int
	Detached bool
	State    string // PENDING, RUNNING, FAILED, ...; "" when squeue no longer knows the job
	Reason   string // why it is pending, or how it ended
	Host     string
}

// String reads "Slurm job 123_4 running on node17 (run dmlrun-ci-3fa2c1)".
func (j NodeJob) String() string {
	var what string
	switch {
	case j.State == "":
		what = "no longer known to Slurm"
	case j.State == "PENDING":
		what = "queued"
		if j.Reason != "" && j.Reason != "None" {
			what += " (" + j.Reason + ")"
		}
	case j.State == "RUNNING":
		what = "running"
		if j.Host != "" {
			what += " on " + j.Host
		}
	default:
		what = strings.ToLower(j.State)
		if j.Host != "" {
			what += " on " + j.Host
		}
	}
	s := fmt.Sprintf("Slurm job %s %s (run %s", j.ID, what, j.Run)
	if j.Attempt > 1 {
		s += fmt.Sprintf(", attempt %d", j.Attempt)
	}
	return s + ")"
}

// Jobs returns, per key, the latest job that a live run of the experiment (one whose head
// has not finished it: attached and running, or detached) has for it, with its state from
// one squeue call for all those runs; none when there are no such records (then no Slurm
// command runs). problems lists records that could not be read.
func Jobs(ctx context.Context, st *store.Store, cmds *Commands, experiment string) (map[string]NodeJob, []string, error) {
	recs, problems := Records(st, experiment)
	if len(recs) == 0 {
		return nil, problems, nil
	}
	out := map[string]NodeJob{}
	names := make([]string, 0, len(recs))
	for _, rec := range recs {
		names = append(names, rec.Run)
		for key, j := range rec.latest() {
			out[key] = NodeJob{Run: rec.Run, ID: j.ID, Attempt: j.Attempt, Detached: rec.Detached}
		}
	}
	if cmds == nil {
		cmds = &Commands{}
	}
	entries, err := cmds.Queue(ctx, names)
	if err != nil {
		return out, problems, err
	}
	byID := map[JobID]QueueEntry{}
	for _, q := range entries {
		byID[q.ID] = q
	}
	for key, j := range out {
		if q, ok := byID[j.ID]; ok {
			j.State, j.Reason, j.Host = q.State, q.Reason, q.Nodes
			out[key] = j
		}
	}
	return out, problems, nil
}

// Prune removes the folders of runs other than keep that are over: runs that submitted
// at least one job, every node of which is now in the store, and whose head is not
// driving them any more (a detached run, or a head on this machine whose process is gone).
// A live head's folder is never removed, even when all its nodes are done (another head
// may have computed them), since it still writes its record and reads its jobs' files
// there. It returns the runs removed.
func Prune(st *store.Store, keep string) []string {
	recs, _ := Records(st, "")
	host, _ := os.Hostname()
	var removed []string
	for _, rec := range recs {
		if rec.Run == keep || len(rec.Jobs) == 0 || !rec.Detached && !(rec.Host == host && !processAlive(rec.PID)) {
			continue
		}
		all := true
		for key := range rec.latest() {
			if _, err := st.Get(key); err != nil {
				all = false
				break
			}
		}
		if all && os.RemoveAll(runDir(st, rec.Run)) == nil {
			removed = append(removed, rec.Run)
		}
	}
	return removed
}

// processAlive reports whether a process with this pid runs on this machine (signal 0:
// EPERM means it exists under another user).
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
