package apply_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"dmlrun/internal/cli/apply"
	"dmlrun/internal/cli/clitest"
	"dmlrun/internal/cli/cmdutil"
	"dmlrun/internal/cli/root"
	"dmlrun/internal/iostreams"
	"dmlrun/pipeline"
)

// fakeSlurm puts fake Slurm commands on PATH: sbatch runs each job (each array task) at
// once, in the foreground, as this test binary's dmlrun (through a wrapper named in the
// executor config), and records its end state for squeue; with FAKE_HOLD set it only
// queues them. It returns the executor config's path.
func fakeSlurm(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	scripts := map[string]string{
		"sbatch": `n=$(cat "$FAKE/next" 2>/dev/null || echo 100); echo $((n+1)) > "$FAKE/next"
name=; out=; array=; script=
for a in "$@"; do
  case "$a" in --job-name=*) name=${a#--job-name=};; --output=*) out=${a#--output=};; --array=*) array=${a#--array=};; esac
  script=$a
done
echo "$*" >> "$FAKE/sbatch.calls"
run() { # ID TASK OUTPUT
  if [ -n "$FAKE_HOLD" ]; then echo "$1|$n|PENDING|Priority||$name" >> "$FAKE/queue"; return; fi
  if SLURM_JOB_ID=$n SLURM_ARRAY_TASK_ID=$2 sh "$script" >> "$3" 2>&1; then s=COMPLETED; else s=FAILED; fi
  echo "$1|$n|$s|None|localhost|$name" >> "$FAKE/queue"
}
if [ -n "$array" ]; then
  last=${array#0-}; last=${last%%%*}
  for i in $(seq 0 "$last"); do run "${n}_$i" "$i" "$(printf '%s' "$out" | sed "s/%a/$i/")"; done
else
  run "$n" "" "$out"
fi
echo "$n"`,
		"squeue": `names=""
for a in "$@"; do case "$a" in --name=*) names="${a#--name=}";; esac; done
echo x >> "$FAKE/squeue.calls"
[ -f "$FAKE/queue" ] || exit 0
awk -F'|' -v names=",$names," 'index(names, "," $6 ",") { print $1 "|" $2 "|" $3 "|" $4 "|" $5 }' "$FAKE/queue"`,
		"sacct":    `true`,
		"scancel":  `echo "$*" >> "$FAKE/scancel.calls"`,
		"scontrol": `true`,
		"sinfo":    `echo localhost`,
	}
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The jobs' dmlrun: this test binary as a dmlrun child process (clitest.Helper).
	wrapper := filepath.Join(dir, "dmlrun")
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\nDMLRUN_CLI_HELPER=1 DMLRUN_CLI_ARGS=\"$*\" exec '"+exe+"' -test.run='^$'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("FAKE", dir)
	cfg := filepath.Join(dir, "slurm.hcl")
	if err := os.WriteFile(cfg, []byte(`dmlrun   = "`+wrapper+`"
poll     = "10ms"
poll_max = "40ms"
stage "train" {
  time = "1h"
  gpus = 1
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// apply --executor slurm runs every node as a job of the (fake) cluster with the results
// of a local apply; a second one has nothing to do.
func TestApplySlurm(t *testing.T) {
	clitest.Workdir(t)
	cfg := fakeSlurm(t)
	r := clitest.Run(t, "apply", "--executor", "slurm", "--executor-config", cfg, "exp.hcl")
	if r.Code != root.ExitOK || !strings.Contains(r.Out, "Apply: 5 computed, 0 cached, 0 failed, 0 not started.") {
		t.Fatalf("apply --executor slurm: exit %d\n%s\n%s", r.Code, r.Out, r.ErrOut)
	}
	for _, want := range []string{"train.a: 2 nodes submitted as Slurm job array 101 (train.a[seed=0] .. train.a[seed=1])", "train.a[seed=1]: computed (job 101_1 on localhost)"} {
		if !strings.Contains(r.ErrOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.ErrOut)
		}
	}
	calls, _ := os.ReadFile(filepath.Join(os.Getenv("FAKE"), "sbatch.calls"))
	if !strings.Contains(string(calls), "--gres=gpu:1") || !strings.Contains(string(calls), "--time=0-01:00:00") {
		t.Errorf("sbatch calls lack the train settings:\n%s", calls)
	}
	slurmKeys := clitest.Keys(clitest.PlanJSON(t, "exp.hcl"))
	for _, pn := range clitest.PlanJSON(t, "exp.hcl").Nodes {
		if pn.Action != pipeline.Cached {
			t.Errorf("after apply --executor slurm: %s is %s", pn.Addr, pn.Action)
		}
	}
	if r := clitest.Run(t, "apply", "--executor", "slurm", "--executor-config", cfg, "exp.hcl"); !strings.Contains(r.Out, "Nothing to do") {
		t.Errorf("second apply: %s\n%s", r.Out, r.ErrOut)
	}
	// The artifacts are those a local apply makes.
	clitest.Workdir(t)
	if r := clitest.Run(t, "apply", "exp.hcl"); r.Code != root.ExitOK {
		t.Fatal(r.ErrOut)
	}
	for addr, key := range clitest.Keys(clitest.PlanJSON(t, "exp.hcl")) {
		if slurmKeys[addr] != key {
			t.Errorf("%s: key %s through Slurm, %s locally", addr, slurmKeys[addr], key)
		}
	}
}

// --detach submits everything with dependencies and returns; plan shows the queued jobs
// (from one squeue call), in text and JSON.
func TestApplySlurmDetachAndPlan(t *testing.T) {
	clitest.Workdir(t)
	cfg := fakeSlurm(t)
	t.Setenv("FAKE_HOLD", "1")
	r := clitest.Run(t, "apply", "--executor", "slurm", "--executor-config", cfg, "--detach", "exp.hcl")
	if r.Code != root.ExitOK || !strings.Contains(r.Out, "Submitted 5 node(s) as Slurm jobs named dmlrun-exp-") {
		t.Fatalf("apply --detach: exit %d\n%s\n%s", r.Code, r.Out, r.ErrOut)
	}
	calls, _ := os.ReadFile(filepath.Join(os.Getenv("FAKE"), "sbatch.calls"))
	if !strings.Contains(string(calls), "--dependency=afterok:100 --kill-on-invalid-dep=yes") {
		t.Errorf("no afterok dependency in:\n%s", calls)
	}
	r = clitest.Run(t, "plan", "exp.hcl")
	for _, want := range []string{"+ create  train.a[seed=1]", "not in store; Slurm job 101_1 queued (Priority) (run dmlrun-exp-"} {
		if !strings.Contains(r.Out, want) {
			t.Errorf("plan lacks %q:\n%s\n%s", want, r.Out, r.ErrOut)
		}
	}
	for _, pn := range clitest.PlanJSON(t, "exp.hcl").Nodes {
		if pn.Job == nil || pn.Job.Executor != "slurm" || pn.Job.State != "PENDING" || !strings.HasPrefix(pn.Job.Run, "dmlrun-exp-") {
			t.Errorf("plan --json: %s: job %+v", pn.Addr, pn.Job)
		}
	}
	if n, _ := os.ReadFile(filepath.Join(os.Getenv("FAKE"), "squeue.calls")); strings.Count(string(n), "x") != 2 {
		t.Errorf("squeue called %d times for 2 plans, want once each", strings.Count(string(n), "x"))
	}
	if r := clitest.Run(t, "show", "exp.hcl", "train.a[seed=1]"); r.Code != root.ExitError || !strings.Contains(r.ErrOut, "not in store; Slurm job 101_1 queued (Priority) (run dmlrun-exp-") {
		t.Errorf("show of a queued node: %d\n%s", r.Code, r.ErrOut)
	}
	// Without Slurm on PATH plan still works, and says so.
	t.Setenv("PATH", t.TempDir())
	r = clitest.Run(t, "plan", "exp.hcl")
	if r.Code != root.ExitOK || !strings.Contains(r.ErrOut, "Warning: cannot ask Slurm about this experiment's jobs") {
		t.Errorf("plan without squeue: exit %d\n%s", r.Code, r.ErrOut)
	}
}

func TestSlurmFlags(t *testing.T) {
	cases := []struct {
		args    []string
		check   func(*apply.Options) bool
		wantErr string
	}{
		{[]string{"--executor", "slurm", "--partition", "gpu", "--time", "train=24h", "--time", "1h", "--gpus", "2", "--cpus", "train=8",
			"--mem", "16G", "--max-jobs", "10", "--retries", "0", "--signal-lead", "10m", "--sbatch-arg=--qos=short", "--detach", "x.hcl"},
			func(o *apply.Options) bool {
				return o.Executor == "slurm" && o.Detach && o.Slurm.Partition == "gpu" && slices.Equal(o.Slurm.Time, []string{"train=24h", "1h"}) &&
					o.Slurm.Retries == 0 && o.Slurm.MaxJobs == 10 && slices.Equal(o.Slurm.SbatchArgs, []string{"--qos=short"})
			}, ""},
		{[]string{"--partition", "gpu", "x.hcl"}, nil, "--partition: only --executor slurm reads it"},
		{[]string{"--detach", "x.hcl"}, nil, "--detach: only --executor slurm reads it"},
		{[]string{"--executor", "cluster", "x.hcl"}, nil, `--executor "cluster": want local or slurm`},
		{[]string{"--executor", "slurm", "-j", "4", "x.hcl"}, nil, "-j: --executor slurm runs one job per node"},
		{[]string{"--executor", "slurm", "--sbatch-arg", "--job-name=x", "x.hcl"}, nil, "--sbatch-arg --job-name=x is set by dmlrun itself"},
		{[]string{"--executor", "slurm", "--sbatch-arg", "qos", "x.hcl"}, nil, `--sbatch-arg "qos" is not an sbatch option`},
		{[]string{"--executor", "slurm", "--signal-lead", "soon", "x.hcl"}, nil, `--signal-lead: "soon" is not a duration`},
		{[]string{"--executor", "slurm", "--time", "train=", "x.hcl"}, nil, `--time "train=": want [KIND=]VALUE`},
		{[]string{"--executor", "slurm", "--gpus", "two", "x.hcl"}, nil, `--gpus "two": want a whole number`},
		{[]string{"--executor", "slurm", "--mem", "lots", "x.hcl"}, nil, `--mem "lots": want a size as sbatch --mem takes it`},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			f := cmdutil.NewFactory(ios, nil)
			var got *apply.Options
			cmd := apply.NewCmd(f, func(o *apply.Options) error { got = o; return nil })
			cmd.SetArgs(cmdutil.NormalizeArgs(tc.args))
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			err := cmd.Execute()
			if tc.wantErr != "" {
				var fe *cmdutil.FlagError
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.As(err, &fe) {
					t.Fatalf("err = %v, want FlagError %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(got) {
				t.Errorf("options %+v", *got)
			}
		})
	}
}

// Settings problems: a bad config file is shown with file:line:col; a stage kind the
// program lacks, or a time limit within the signal lead, stop apply before any job.
func TestApplySlurmSettingsProblems(t *testing.T) {
	clitest.Workdir(t)
	cfg := fakeSlurm(t)
	bad := filepath.Join(filepath.Dir(cfg), "bad.yaml")
	os.WriteFile(bad, []byte("partition: gpu\nstage:\n  trian: {gpus: 1}\n"), 0o644)
	r := clitest.Run(t, "apply", "--executor", "slurm", "--executor-config", bad, "exp.hcl")
	if r.Code != root.ExitError || !strings.Contains(r.ErrOut, "Unknown stage kind") || !strings.Contains(r.ErrOut, "bad.yaml line 3") || !strings.Contains(r.ErrOut, `Did you mean "train"?`) {
		t.Errorf("bad config: exit %d\n%s", r.Code, r.ErrOut)
	}
	r = clitest.Run(t, "apply", "--executor", "slurm", "--executor-config", cfg, "--time", "trian=2h", "exp.hcl")
	if r.Code != root.ExitError || !strings.Contains(r.ErrOut, `--time trian=2h: "trian" is not a stage kind of this dmlrun`) {
		t.Errorf("--time for an unknown kind: exit %d\n%s", r.Code, r.ErrOut)
	}
	r = clitest.Run(t, "apply", "--executor", "slurm", "--executor-config", cfg, "--time", "train=3m", "exp.hcl")
	if r.Code != root.ExitError || !strings.Contains(r.ErrOut, `time 0-00:03:00 is not longer than signal_lead 5m0s`) {
		t.Errorf("time within the signal lead: exit %d\n%s", r.Code, r.ErrOut)
	}
	if b, _ := os.ReadFile(filepath.Join(os.Getenv("FAKE"), "sbatch.calls")); len(b) > 0 {
		t.Errorf("jobs were submitted: %s", b)
	}
}
