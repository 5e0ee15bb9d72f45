package slurm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// script puts one fake command on PATH.
func script(t *testing.T, name, body string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

func TestSubmit(t *testing.T) {
	ctx := context.Background()
	cases := []struct{ name, body, want, err string }{
		{"plain", `echo 4711`, "4711", ""},
		{"with cluster", `echo "4711;gpu-cluster"`, "4711", ""},
		{"garbage", `echo "Submitted batch job 4711"`, "", `sbatch printed "Submitted batch job 4711", not a job id`},
		{"refused", `echo "sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified" >&2; exit 1`, "",
			"sbatch --parsable --job-name=x job.sh: exit status 1: sbatch: error: Batch job submission failed: Invalid account"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			script(t, "sbatch", c.body)
			id, err := (&Commands{}).Submit(ctx, []string{"--job-name=x"}, "job.sh")
			if string(id) != c.want || (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
				t.Errorf("Submit = %q, %v; want %q, %q", id, err, c.want, c.err)
			}
		})
	}
	t.Run("not installed", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		_, err := (&Commands{}).Submit(ctx, nil, "job.sh")
		if !errors.Is(err, os.ErrNotExist) && (err == nil || !strings.Contains(err.Error(), "the Slurm client commands must be on PATH")) {
			t.Errorf("Submit without sbatch: %v", err)
		}
	})
}

func TestQueue(t *testing.T) {
	script(t, "squeue", `echo "$@" > "$OUT"
printf '%s\n' '7_0|8|RUNNING|None|n3' '7_1|7|PENDING|JobArrayTaskLimit|' '' '9|9|COMPLETED|None|n1'`)
	out := filepath.Join(t.TempDir(), "args")
	t.Setenv("OUT", out)
	got, err := (&Commands{}).Queue(context.Background(), []string{"run-a", "run-b"})
	if err != nil {
		t.Fatal(err)
	}
	want := []QueueEntry{{"7_0", "8", "RUNNING", "None", "n3"}, {"7_1", "7", "PENDING", "JobArrayTaskLimit", ""}, {"9", "9", "COMPLETED", "None", "n1"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Queue = %+v, want %+v", got, want)
	}
	if b, _ := os.ReadFile(out); strings.TrimSpace(string(b)) != "-h -r -t all --name=run-a,run-b -o %i|%A|%T|%r|%N" {
		t.Errorf("squeue args %q", b)
	}
	script(t, "squeue", `echo 'what is this'`)
	if _, err := (&Commands{}).Queue(context.Background(), []string{"x"}); err == nil || !strings.Contains(err.Error(), `squeue printed "what is this"`) {
		t.Errorf("Queue of garbage: %v", err)
	}
	if got, err := (&Commands{}).Queue(context.Background(), nil); got != nil || err != nil {
		t.Errorf("Queue of no names ran squeue: %v, %v", got, err)
	}
}

// Without accounting storage sacct says so and `sacct -c` reads the completion file.
func TestAccounting(t *testing.T) {
	script(t, "sacct", `case "$1" in
-c) echo "sacct: error: Unknown type ArrayJobId: 3" >&2; printf '%s\n' '12|PENDING|0:0|n1' '12|FAILED|1:0|n1' '13|CANCELLED by 0|0:15|None assigned' ;;
*) echo "Slurm accounting storage is disabled" >&2; exit 1 ;;
esac`)
	got, err := (&Commands{}).Accounting(context.Background(), []string{"12", "13"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]AcctEntry{"12": {"12", "FAILED", "1:0", "n1"}, "13": {"13", "CANCELLED", "0:15", "None assigned"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Accounting = %+v, want %+v", got, want)
	}
	script(t, "sacct", `echo '12|TIMEOUT|0:0|n4'`)
	if got, _ := (&Commands{}).Accounting(context.Background(), []string{"12"}); got["12"].State != "TIMEOUT" {
		t.Errorf("Accounting with accounting storage = %+v", got)
	}
}

func TestNodesAndTransient(t *testing.T) {
	script(t, "sinfo", `echo "n1"; echo "n2"; echo "n1"`)
	nodes, err := (&Commands{}).Nodes(context.Background(), "gpu")
	if err != nil || !reflect.DeepEqual(nodes, []string{"n1", "n2"}) {
		t.Errorf("Nodes = %v, %v", nodes, err)
	}
	for msg, want := range map[string]bool{
		"slurm_load_jobs error: Socket timed out on send/recv operation":                 true,
		"sbatch: error: Batch job submission failed: Resource temporarily unavailable":   true,
		"sbatch: error: Batch job submission failed: Invalid partition name specified":   false,
		"squeue: error: Unable to contact slurm controller (connect failure)":            true,
		"sbatch: error: Batch job submission failed: Job violates accounting/QOS policy": false,
	} {
		if got := (&CommandError{Stderr: msg}).Transient(); got != want {
			t.Errorf("Transient(%q) = %v", msg, got)
		}
	}
}

func TestCheckExtraArg(t *testing.T) {
	for arg, ok := range map[string]bool{"--qos=short": true, "-C": true, "--constraint=a100": true, "-Jname": false, "-J": false,
		"--job-name=x": false, "--array=1-3": false, "qos=short": false, "--signal=USR2@60": false, "--chdir=/x": false, "--dependency": false} {
		if err := CheckExtraArg(arg); (err == nil) != ok {
			t.Errorf("CheckExtraArg(%q) = %v", arg, err)
		}
	}
}
