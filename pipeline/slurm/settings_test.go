package slurm

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

var kinds = []string{"dataset", "train", "embed", "evaluate", "report"}

func TestDecodeSettings(t *testing.T) {
	hclSrc := `
partition   = "gpu"
account     = "lab"
max_jobs    = 20
array_limit = 4
retries     = 3
signal_lead = "5m"
poll        = "2s"
poll_max    = "30s"
extra_args  = ["--qos=short", "--constraint=a100"]
dmlrun      = "/shared/bin/dmlrun"

stage "default" {
  time   = "1h"
  cpus   = 2
  memory = "8G"
}

stage "train" {
  partition = "a100"
  time      = "1-00:00:00"
  gpus      = 1
  cpus      = 8
  memory    = "32G"
}

stage "evaluate" {
  gres = "gpu:a100:1"
}
`
	yamlSrc := `
partition: gpu
account: lab
max_jobs: 20
array_limit: 4
retries: 3
signal_lead: 5m
poll: 2s
poll_max: 30s
extra_args: ["--qos=short", "--constraint=a100"]
dmlrun: /shared/bin/dmlrun
stage:
  default: {time: 1h, cpus: 2, memory: 8G}
  train:
    partition: a100
    time: "1-00:00:00"
    gpus: 1
    cpus: 8
    memory: 32G
  evaluate: {gres: "gpu:a100:1"}
`
	want := &Settings{Partition: "gpu", Account: "lab", MaxJobs: 20, ArrayLimit: 4, Retries: 3, SignalLead: 5 * time.Minute,
		Poll: 2 * time.Second, PollMax: 30 * time.Second, ExtraArgs: []string{"--qos=short", "--constraint=a100"}, Dmlrun: "/shared/bin/dmlrun",
		Stages: map[string]Resources{
			"default":  {Time: time.Hour, CPUs: 2, Memory: "8G"},
			"train":    {Partition: "a100", Time: 24 * time.Hour, GPUs: 1, CPUs: 8, Memory: "32G"},
			"evaluate": {Gres: "gpu:a100:1"},
		}}
	for name, src := range map[string]string{"slurm.hcl": hclSrc, "slurm.yaml": yamlSrc} {
		t.Run(name, func(t *testing.T) {
			s, diags, _ := Decode(name, []byte(src), nil, kinds)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			if !reflect.DeepEqual(s, want) {
				t.Errorf("got  %+v\nwant %+v", s, want)
			}
			if err := s.Check(); err != nil {
				t.Error(err)
			}
			wantFor := map[string]Resources{
				"embed":    {Partition: "gpu", Time: time.Hour, CPUs: 2, Memory: "8G"},
				"train":    {Partition: "a100", Time: 24 * time.Hour, GPUs: 1, CPUs: 8, Memory: "32G"},
				"evaluate": {Partition: "gpu", Time: time.Hour, CPUs: 2, Memory: "8G", Gres: "gpu:a100:1"},
			}
			for k, w := range wantFor {
				if got := s.For(k); got != w {
					t.Errorf("For(%s) = %+v, want %+v", k, got, w)
				}
			}
		})
	}
}

// Each invalid case names the problem at its line and column.
func TestDecodeSettingsProblems(t *testing.T) {
	cases := []struct {
		name, file, src string
		want            []string // "line:col: summary"
	}{
		{"unknown setting", "s.hcl", "partitoin = \"gpu\"\n", []string{`1:1: Unsupported argument: "partitoin" is not a setting of the executor config (settings: partition, account, max_jobs, array_limit, retries, signal_lead, poll, poll_max, extra_args, dmlrun). Did you mean "partition"?`}},
		{"unknown stage setting", "s.hcl", "stage \"train\" {\n  gpu = 1\n}\n", []string{`2:3: Unsupported argument: "gpu" is not a setting of a stage block (settings: partition, time, cpus, memory, gpus, gres). Did you mean "gpus"?`}},
		{"unknown kind", "s.hcl", "stage \"trian\" {\n  gpus = 1\n}\n", []string{`1:7: Unknown stage kind: "trian" is not a stage kind of this dmlrun (kinds: default, dataset, train, embed, evaluate, report). Did you mean "train"?`}},
		{"short signal lead", "s.hcl", "signal_lead = \"60s\"\n", []string{`1:15: Signal lead too short: signal_lead is 1m0s; want at least 2m0s: Slurm delivers the signal up to ~30 s off, and a checkpoint must be written in what is left.`}},
		{"time within the signal lead", "s.hcl", "signal_lead = \"10m\"\nstage \"train\" {\n  time = \"5m\"\n}\n", []string{`3:10: Time limit shorter than the signal lead: stage "train": time 0-00:05:00 is not longer than signal_lead 10m0s, so a job would be signalled to stop before it starts working; raise time or lower signal_lead (at least 2m0s).`}},
		{"bad duration", "s.hcl", "stage \"train\" {\n  time = \"a day\"\n}\n", []string{`2:10: Invalid duration: time: "a day" is not a duration; write "90m", "24h", "1h30m" or Slurm's "1-00:00:00" (days-hours:minutes:seconds).`}},
		{"number for a duration", "s.hcl", "poll = 5\n", []string{`1:8: Incorrect value type: poll takes a duration as a string: "90m", "24h" or Slurm's "1-00:00:00".`}},
		{"bad memory", "s.yaml", "stage:\n  train:\n    memory: 32 GB\n", []string{`3:13: Invalid memory size: memory "32 GB": write it as Slurm's --mem does: a whole number with an optional unit K, M, G or T ("16G", "4000M").`}},
		{"zero jobs", "s.yaml", "max_jobs: 0\n", []string{`1:11: Invalid value: max_jobs takes a whole number of at least 1.`}},
		{"own sbatch option", "s.hcl", "extra_args = [\"--job-name=x\"]\n", []string{`1:14: Invalid sbatch argument: --job-name=x is set by dmlrun itself and cannot be passed through (dmlrun sets --parsable --job-name -J --comment --output -o --error -e --array -a --dependency -d --requeue --no-requeue --signal --open-mode --wrap --kill-on-invalid-dep --chdir -D).`}},
		{"relative dmlrun", "s.hcl", "dmlrun = \"bin/dmlrun\"\n", []string{`1:10: Invalid path: dmlrun is the absolute path of the dmlrun binary on the compute nodes.`}},
		{"variables", "s.hcl", "partition = var.p\n", []string{`1:13: Variables not allowed: Variables may not be used here. The executor config file holds literal values only (no variables or functions).`}},
		{"block type", "s.hcl", "stages \"train\" {}\n", []string{`1:1: Unsupported block type: Blocks of type "stages" are not expected here; the executor config has attributes (partition, account, max_jobs, array_limit, retries, signal_lead, poll, poll_max, extra_args, dmlrun) and stage "<kind>" blocks. Did you mean "stage"?`}},
		{"duplicate stage", "s.hcl", "stage \"train\" {}\nstage \"train\" {}\n", []string{`2:7: Duplicate stage block: stage "train" is already set at s.hcl:1,7-14; merge the two blocks.`}},
		{"yaml syntax", "s.yaml", "partition: [gpu\n", []string{`1:1: Invalid YAML: Did not find expected ',' or ']'.`}},
		{"yaml not a mapping", "s.yaml", "- gpu\n", []string{`1:1: Invalid executor config: The file must be a mapping of settings (partition: gpu, stage: {train: {gpus: 1}}).`}},
		{"yaml duplicate", "s.yaml", "retries: 1\nretries: 2\n", []string{`2:1: Duplicate setting: retries is already set at s.yaml:1,1-8; keep one.`}},
		{"hcl syntax", "s.hcl", "partition = \n", []string{`1:13: Invalid expression: Expected the start of an expression, but found an invalid expression token.`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, diags, files := Decode(c.file, []byte(c.src), nil, kinds)
			var got []string
			for _, d := range diags {
				pos := "-"
				if d.Subject != nil {
					pos = fmt.Sprintf("%d:%d", d.Subject.Start.Line, d.Subject.Start.Column)
				}
				got = append(got, fmt.Sprintf("%s: %s: %s", pos, d.Summary, d.Detail))
			}
			sort.Strings(got)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("diagnostics\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
			var sb strings.Builder
			if err := hcl.NewDiagnosticTextWriter(&sb, files, 100, false).WriteDiagnostics(diags); err != nil || !strings.Contains(sb.String(), c.file+" line") {
				t.Errorf("rendering: %v\n%s", err, sb.String())
			}
		})
	}
}

func TestDecodeFileMissing(t *testing.T) {
	_, diags, _ := DecodeFile("/nonexistent/slurm.hcl", nil, kinds)
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "no such file") {
		t.Fatalf("diagnostics %v", diags)
	}
}

func TestParseDuration(t *testing.T) {
	cases := []struct {
		in    string
		want  time.Duration
		slurm string
	}{
		{"90m", 90 * time.Minute, "0-01:30:00"},
		{"24h", 24 * time.Hour, "1-00:00:00"},
		{"1h30m10s", time.Hour + 30*time.Minute + 10*time.Second, "0-01:30:10"},
		{"30", 30 * time.Minute, "0-00:30:00"},
		{"30:15", 30*time.Minute + 15*time.Second, "0-00:30:15"},
		{"2:00:00", 2 * time.Hour, "0-02:00:00"},
		{"2-12", 60 * time.Hour, "2-12:00:00"},
		{"2-12:30", 60*time.Hour + 30*time.Minute, "2-12:30:00"},
		{"1-00:00:01", 24*time.Hour + time.Second, "1-00:00:01"},
		{"1.5s", 1500 * time.Millisecond, "0-00:00:02"},
	}
	for _, c := range cases {
		got, err := ParseDuration(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
		if s := SlurmTime(got); s != c.slurm {
			t.Errorf("SlurmTime(%v) = %q, want %q", got, s, c.slurm)
		}
	}
	for _, bad := range []string{"", "0", "-5m", "0s", "1:2:3:4", "a-b", "1-", "soon"} {
		if d, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", bad, d)
		}
	}
}

func TestSettingsCheck(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Settings)
		want string
	}{
		{"defaults", func(*Settings) {}, ""},
		{"signal lead", func(s *Settings) { s.SignalLead = time.Minute }, "signal_lead 1m0s: want at least 2m0s"},
		{"max jobs", func(s *Settings) { s.MaxJobs = 0 }, "max_jobs 0: want at least 1"},
		{"retries", func(s *Settings) { s.Retries = -1 }, "retries -1: want 0 or more"},
		{"poll", func(s *Settings) { s.PollMax = time.Second }, "want poll > 0 and poll_max >= poll"},
		{"time", func(s *Settings) { s.Stages["default"] = Resources{Time: 5 * time.Minute} }, `stage "default": time 0-00:05:00 is not longer than signal_lead 5m0s`},
	}
	for _, c := range cases {
		s := Defaults()
		c.edit(s)
		err := s.Check()
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: Check() = %v, want %q", c.name, err, c.want)
		}
	}
}
