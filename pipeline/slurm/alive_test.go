package slurm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dmlrun/store"
)

func TestLiveness(t *testing.T) {
	cases := []struct {
		name, squeue string
		want         store.JobState
	}{
		{"running", `echo RUNNING`, store.JobRunning},
		{"completing", `echo COMPLETING`, store.JobRunning},
		{"suspended", `echo SUSPENDED`, store.JobRunning},
		{"completed", `echo COMPLETED`, store.JobGone},
		{"cancelled", `echo CANCELLED`, store.JobGone},
		{"pending again (requeued)", `echo PENDING`, store.JobGone},
		{"no longer known", `echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1`, store.JobGone},
		{"listed in no state", `true`, store.JobGone},
		{"controller down", `echo "slurm_load_jobs error: Unable to contact slurm controller (connect failure)" >&2; exit 1`, store.JobUnknown},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			script(t, "squeue", `echo "$@" >> "$OUT"
`+c.squeue)
			out := filepath.Join(t.TempDir(), "args")
			t.Setenv("OUT", out)
			l := &Liveness{Commands: &Commands{}, TTL: time.Minute, Cluster: "c1"}
			if got := l.JobAlive(store.SlurmJob{ID: "4711", Cluster: "c1"}); got != c.want {
				t.Errorf("JobAlive = %v, want %v", got, c.want)
			}
			if b, _ := os.ReadFile(out); strings.TrimSpace(string(b)) != "-h -t all -j 4711 -o %T" {
				t.Errorf("squeue args %q", b)
			}
		})
	}
}

// A job is asked about at most once per TTL; a remembered "running" stands, a remembered
// "gone" does not (the job may have been requeued since): it is unknown until the TTL ends.
func TestLivenessCache(t *testing.T) {
	script(t, "squeue", `echo x >> "$OUT"; cat "$STATE"`)
	dir := t.TempDir()
	out, state := filepath.Join(dir, "calls"), filepath.Join(dir, "state")
	t.Setenv("OUT", out)
	t.Setenv("STATE", state)
	set := func(s string) {
		if err := os.WriteFile(state, []byte(s+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	calls := func() int { b, _ := os.ReadFile(out); return strings.Count(string(b), "x") }
	now := time.Unix(1000, 0)
	l := &Liveness{Commands: &Commands{}, TTL: 10 * time.Second, Cluster: "c1", Now: func() time.Time { return now }}
	job := store.SlurmJob{ID: "7"}

	set("RUNNING")
	for i := 0; i < 3; i++ {
		if got := l.JobAlive(job); got != store.JobRunning {
			t.Fatalf("ask %d: %v, want running", i, got)
		}
	}
	if calls() != 1 {
		t.Errorf("%d squeue calls within the TTL, want 1", calls())
	}
	set("COMPLETED")
	now = now.Add(11 * time.Second)
	if got := l.JobAlive(job); got != store.JobGone {
		t.Errorf("after the TTL: %v, want gone", got)
	}
	if got := l.JobAlive(job); got != store.JobUnknown {
		t.Errorf("gone remembered within the TTL: %v, want unknown", got)
	}
	if calls() != 2 {
		t.Errorf("%d squeue calls, want 2", calls())
	}
	if got := l.JobAlive(store.SlurmJob{ID: "8", Cluster: "other"}); got != store.JobUnknown {
		t.Errorf("a job of another cluster: %v, want unknown", got)
	}
	if got := l.JobAlive(store.SlurmJob{}); got != store.JobUnknown || calls() != 2 {
		t.Errorf("no job id: %v after %d calls, want unknown without a call", got, calls())
	}
}

func TestLivenessClusterName(t *testing.T) {
	script(t, "scontrol", `printf 'AccountingStorageType   = accounting_storage/none\nClusterName             = gpu-lab\n'`)
	script(t, "squeue", `echo RUNNING`)
	t.Setenv("SLURM_CLUSTER_NAME", "")
	l := &Liveness{Commands: &Commands{}, TTL: time.Minute}
	if got := l.JobAlive(store.SlurmJob{ID: "1", Cluster: "gpu-lab"}); got != store.JobRunning {
		t.Errorf("a job of this cluster: %v", got)
	}
	if got := l.JobAlive(store.SlurmJob{ID: "2", Cluster: "cpu-lab"}); got != store.JobUnknown {
		t.Errorf("a job of another cluster: %v", got)
	}
}
