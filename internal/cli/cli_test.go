package cli

import (
	"bytes"
	"context"
	goldenfile "dmlrun/internal/golden"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"dmlrun/internal/iostreams"
	"dmlrun/pipeline"

	"github.com/spf13/cobra"
)

// workdir copies the test experiments into a fresh directory and makes it the working
// directory, so the default store results/ lands there.
func workdir(t *testing.T) string {
	t.Helper()
	src, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"exp.hcl", "exp.yaml", "invalid.hcl"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
	takeRuns()
	return dir
}

type result struct {
	code        ExitCode
	out, errOut string
}

// dmlrun runs one command line in-process.
func dmlrun(t *testing.T, args ...string) result {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	f := NewFactory(ios, testStages, nil)
	f.Version = "test"
	f.TorchVersion = func() string { return "none" }
	f.LookupEnv = func(string) (string, bool) { return "", false }
	f.Now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	code := Run(context.Background(), f, args)
	return result{code, out.String(), errOut.String()}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenfile.Compare(t, filepath.Join(goldenDir, name+".golden"), []byte(got))
}

var goldenDir = func() string { d, _ := filepath.Abs("testdata"); return d }()

func planJSON(t *testing.T, args ...string) *pipeline.Plan {
	t.Helper()
	r := dmlrun(t, append([]string{"plan", "--json"}, args...)...)
	if r.code != ExitOK {
		t.Fatalf("plan: exit %d\n%s", r.code, r.errOut)
	}
	var p pipeline.Plan
	if err := json.Unmarshal([]byte(r.out), &p); err != nil {
		t.Fatalf("plan --json: %v\n%s", err, r.out)
	}
	return &p
}

func keys(p *pipeline.Plan) map[string]string {
	m := map[string]string{}
	for _, n := range p.Nodes {
		m[n.Addr] = n.Key
	}
	return m
}

func TestTwoSpellingsSameKeys(t *testing.T) {
	workdir(t)
	h, y := keys(planJSON(t, "exp.hcl")), keys(planJSON(t, "exp.yaml"))
	if len(h) != 5 {
		t.Fatalf("exp.hcl has %d nodes, want 5: %v", len(h), h)
	}
	if !maps_equal(h, y) {
		t.Errorf("keys differ:\nhcl  %v\nyaml %v", h, y)
	}
}

func maps_equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestPlanExitCodes(t *testing.T) {
	workdir(t)
	cases := []struct {
		name string
		args []string
		want ExitCode
	}{
		{"changes", []string{"plan", "--detailed-exitcode", "exp.hcl"}, ExitChanges},
		{"changes single dash", []string{"plan", "-detailed-exitcode", "exp.hcl"}, ExitChanges},
		{"no detailed", []string{"plan", "exp.hcl"}, ExitOK},
		{"invalid", []string{"plan", "--detailed-exitcode", "invalid.hcl"}, ExitError},
		{"missing file", []string{"plan", "nope.hcl"}, ExitError},
		{"bad flag", []string{"plan", "--frobnicate", "exp.hcl"}, ExitError},
		{"bad target", []string{"plan", "--target", "train.zz", "exp.hcl"}, ExitError},
		{"unknown subcommand", []string{"cache", "bogus"}, ExitError},
		{"cache help", []string{"cache"}, ExitOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if r := dmlrun(t, tc.args...); r.code != tc.want {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tc.want, r.out, r.errOut)
			}
		})
	}
	if r := dmlrun(t, "apply", "exp.hcl"); r.code != ExitOK {
		t.Fatalf("apply: exit %d\n%s", r.code, r.errOut)
	}
	if r := dmlrun(t, "plan", "--detailed-exitcode", "exp.hcl"); r.code != ExitOK {
		t.Errorf("after apply: exit %d, want 0\n%s", r.code, r.out)
	}
	if r := dmlrun(t, "plan", "--detailed-exitcode", "-var", "lr=2e-5", "exp.hcl"); r.code != ExitChanges {
		t.Errorf("changed var: exit %d, want 2", r.code)
	}
}

func TestFlagErrorsShowUsage(t *testing.T) {
	workdir(t)
	r := dmlrun(t, "apply", "-j", "0", "exp.hcl")
	if r.code != ExitError || !strings.Contains(r.errOut, "Error: -j 0: want at least 1") || !strings.Contains(r.errOut, "Usage:") {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.errOut)
	}
	r = dmlrun(t, "apply", "missing.hcl")
	if r.code != ExitError || strings.Contains(r.errOut, "Usage:") {
		t.Errorf("a non-flag error printed usage or wrong code %d:\n%s", r.code, r.errOut)
	}
}

func TestApplyFlags(t *testing.T) {
	cases := []struct {
		args    []string
		want    ApplyOptions
		wantErr string
	}{
		{[]string{"x.hcl"}, ApplyOptions{File: "x.hcl", Jobs: 1, Device: "auto"}, ""},
		{[]string{"-j", "4", "--device", "cuda:1", "--threads", "8", "-var", "a=1", "-target", "train.a", "x.hcl"},
			ApplyOptions{File: "x.hcl", Jobs: 4, Device: "cuda:1", Threads: 8, Vars: []string{"a=1"}, Targets: []string{"train.a"}}, ""},
		{[]string{"--device", "gpu", "x.hcl"}, ApplyOptions{}, `--device "gpu": want auto, cpu, cuda or cuda:N`},
		{[]string{"--threads", "-1", "x.hcl"}, ApplyOptions{}, "--threads -1"},
		{[]string{}, ApplyOptions{}, "takes 1 argument"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			f := NewFactory(ios, testStages, nil)
			var got *ApplyOptions
			cmd := newApplyCmd(f, func(o *ApplyOptions) error { got = o; return nil })
			cmd.SetArgs(normalizeArgs(tc.args))
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			err := cmd.Execute()
			if tc.wantErr != "" {
				var fe *FlagError
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.As(err, &fe) {
					t.Fatalf("err = %v, want FlagError %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.IO, got.Factory = nil, nil
			if got.File != tc.want.File || got.Jobs != tc.want.Jobs || got.Device != tc.want.Device ||
				got.Threads != tc.want.Threads || !slices.Equal(got.Vars, tc.want.Vars) || !slices.Equal(got.Targets, tc.want.Targets) {
				t.Errorf("options = %+v, want %+v", *got, tc.want)
			}
		})
	}
}

func TestPlanGolden(t *testing.T) {
	workdir(t)
	r := dmlrun(t, "plan", "exp.hcl")
	golden(t, "plan_fresh.txt", r.out)
	r = dmlrun(t, "plan", "--json", "exp.hcl")
	golden(t, "plan_fresh.json", r.out)
	if r := dmlrun(t, "apply", "--target", "train.a[seed=0]", "exp.hcl"); r.code != ExitOK {
		t.Fatalf("apply: %s", r.errOut)
	}
	r = dmlrun(t, "plan", "-var", "lr=2e-5", "exp.hcl")
	golden(t, "plan_changed.txt", r.out)
	r = dmlrun(t, "plan", "--json", "-var", "lr=2e-5", "--target", "train.a", "exp.hcl")
	golden(t, "plan_changed.json", r.out)
}

func TestValidate(t *testing.T) {
	workdir(t)
	r := dmlrun(t, "validate", "exp.hcl")
	if r.code != ExitOK || r.out != "exp.hcl: valid, 5 node(s)\n" {
		t.Errorf("exit %d out %q err %q", r.code, r.out, r.errOut)
	}
	r = dmlrun(t, "validate", "--json", "invalid.hcl")
	if r.code != ExitError {
		t.Errorf("invalid: exit %d", r.code)
	}
	golden(t, "validate_invalid.json", r.out)
	r = dmlrun(t, "validate", "invalid.hcl")
	if r.code != ExitError || !strings.Contains(r.errOut, "on invalid.hcl line 3") {
		t.Errorf("text diagnostics: exit %d\n%s", r.code, r.errOut)
	}
	if _, err := os.Stat("results"); !os.IsNotExist(err) {
		t.Errorf("validate created the store: %v", err)
	}
}

func TestApplyRerunsOnlyChanged(t *testing.T) {
	workdir(t)
	r := dmlrun(t, "apply", "exp.hcl")
	if r.code != ExitOK {
		t.Fatalf("apply: %d\n%s", r.code, r.errOut)
	}
	if got := takeRuns(); len(got) != 5 {
		t.Errorf("first apply ran %v", got)
	}
	if !strings.Contains(r.out, "Apply: 5 computed, 0 cached, 0 failed, 0 not started.") {
		t.Errorf("summary: %s", r.out)
	}
	if !strings.Contains(r.errOut, "train.a[seed=0] epoch 2/2 loss 0.5") {
		t.Errorf("no plain progress line in stderr:\n%s", r.errOut)
	}
	r = dmlrun(t, "apply", "exp.yaml") // same keys: nothing to do
	if got := takeRuns(); len(got) != 0 || !strings.Contains(r.out, "Nothing to do") {
		t.Errorf("apply of the YAML twin ran %v\n%s", got, r.out)
	}
	r = dmlrun(t, "apply", "-j", "3", "-var", "lr=2e-5", "exp.hcl")
	if r.code != ExitOK {
		t.Fatalf("apply: %d\n%s", r.code, r.errOut)
	}
	got := takeRuns()
	sort.Strings(got)
	want := []string{"evaluate.test[train.a[seed=0]]", "evaluate.test[train.a[seed=1]]", "train.a[seed=0]", "train.a[seed=1]"}
	if !slices.Equal(got, want) {
		t.Errorf("ran %v, want %v (not the dataset)", got, want)
	}
}

func TestCorruptionVerifyAndRecompute(t *testing.T) {
	workdir(t)
	if r := dmlrun(t, "apply", "exp.hcl"); r.code != ExitOK {
		t.Fatalf("apply: %s", r.errOut)
	}
	takeRuns()
	key := keys(planJSON(t, "exp.hcl"))["train.a[seed=1]"]
	file := filepath.Join("results", key[:2], key, "model.txt")
	os.Chmod(file, 0o644)
	b, _ := os.ReadFile(file)
	b[0] ^= 1
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	r := dmlrun(t, "cache", "verify")
	if r.code != ExitError || !strings.Contains(r.out, "DAMAGED  "+key[:12]+" train.a[seed=1]: file model.txt digest mismatch") {
		t.Errorf("verify: exit %d\n%s\n%s", r.code, r.out, r.errOut)
	}
	if !strings.Contains(r.errOut, "1 of 5 artifact(s) damaged") {
		t.Errorf("verify stderr: %s", r.errOut)
	}
	p := planJSON(t, "exp.hcl")
	for _, n := range p.Nodes {
		if n.Addr == "train.a[seed=1]" && (n.Action != pipeline.Rerun || n.Reason != "artifact corrupted: file model.txt digest mismatch") {
			t.Errorf("plan: %s %q", n.Action, n.Reason)
		}
	}
	if r := dmlrun(t, "apply", "exp.hcl"); r.code != ExitOK {
		t.Fatalf("apply: %s", r.errOut)
	}
	if got := takeRuns(); !slices.Equal(got, []string{"train.a[seed=1]"}) {
		t.Errorf("recompute ran %v", got)
	}
	if r := dmlrun(t, "cache", "verify"); r.code != ExitOK {
		t.Errorf("verify after recompute: %d\n%s", r.code, r.out)
	}
}

func TestShow(t *testing.T) {
	workdir(t)
	if r := dmlrun(t, "show", "exp.hcl", "dataset.toy"); r.code != ExitError || !strings.Contains(r.errOut, "not in store") {
		t.Errorf("show before apply: %d %s", r.code, r.errOut)
	}
	dmlrun(t, "apply", "exp.hcl")
	r := dmlrun(t, "show", "--json", "exp.hcl", "train.a[seed=0]")
	var s ShowJSON
	if err := json.Unmarshal([]byte(r.out), &s); err != nil {
		t.Fatalf("%v\n%s", err, r.out)
	}
	if s.Manifest.Stage != "train" || len(s.Manifest.Files) != 2 || s.Manifest.Provenance.DmlrunVersion != "test" || s.Manifest.Provenance.TorchVersion != "none" {
		t.Errorf("manifest = %+v", s.Manifest)
	}
	r = dmlrun(t, "show", "exp.hcl", "train.a[seed=0]")
	for _, want := range []string{"stage       train (version 1)", "input       dataset = dataset.toy", "schedule.lr = 1e-05", "model.txt", "log.txt"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("show lacks %q:\n%s", want, r.out)
		}
	}
	if r := dmlrun(t, "show", "exp.hcl", "train.a"); r.code != ExitError || !strings.Contains(r.errOut, "train.a has 2 instances") {
		t.Errorf("ambiguous: %s", r.errOut)
	}
}

func TestCacheLsAndGC(t *testing.T) {
	workdir(t)
	dmlrun(t, "apply", "exp.hcl")
	dmlrun(t, "apply", "-var", "lr=2e-5", "exp.hcl")
	r := dmlrun(t, "cache", "ls")
	if !strings.Contains(r.out, "9 artifact(s)") {
		t.Errorf("ls:\n%s", r.out)
	}
	if r := dmlrun(t, "cache", "gc"); r.code != ExitError {
		t.Errorf("gc without files: exit %d", r.code)
	}
	r = dmlrun(t, "cache", "gc", "--dry-run", "exp.hcl")
	if !strings.Contains(r.out, "would remove 4 artifact(s)") {
		t.Errorf("dry run:\n%s", r.out)
	}
	r = dmlrun(t, "cache", "gc", "exp.hcl")
	if r.code != ExitOK || !strings.Contains(r.out, "removed 4 artifact(s)") || !strings.Contains(r.out, "kept 5") {
		t.Errorf("gc: %d\n%s%s", r.code, r.out, r.errOut)
	}
	if r := dmlrun(t, "plan", "--detailed-exitcode", "exp.hcl"); r.code != ExitOK {
		t.Errorf("gc removed something exp.hcl needs:\n%s", r.out)
	}
	if r := dmlrun(t, "plan", "-var", "lr=2e-5", "exp.hcl"); !strings.Contains(r.out, "artifact missing from the store (removed by cache gc or by hand)") {
		t.Errorf("plan after gc:\n%s", r.out)
	}
}

func TestExitCodeMapping(t *testing.T) {
	AddCommand(func(f *Factory) *cobra.Command {
		return &cobra.Command{Use: "fakediff", RunE: func(*cobra.Command, []string) error {
			return &RegressionError{Check: "nir_not_worse", Regressions: []string{"e_recall@1: 0.61 < 0.64 - 0.02"}}
		}}
	})
	defer func() { extra = extra[:len(extra)-1] }()
	r := dmlrun(t, "fakediff")
	if r.code != ExitRegression || !strings.Contains(r.errOut, "check nir_not_worse: 1 regression(s)\n  e_recall@1") {
		t.Errorf("exit %d, stderr %q", r.code, r.errOut)
	}
	if r := dmlrun(t, "version"); r.code != ExitOK || !strings.Contains(r.out, "libtorch none") {
		t.Errorf("version: %q", r.out)
	}
	if r := dmlrun(t, "completion", "bash"); r.code != ExitOK || !strings.Contains(r.out, "bash completion") {
		t.Errorf("completion: %d", r.code)
	}
}

func TestNormalizeArgs(t *testing.T) {
	got := normalizeArgs([]string{"plan", "-var", "a=1", "-var=b=2", "-j", "2", "-target=x", "--json", "--", "-var"})
	want := []string{"plan", "--var", "a=1", "--var=b=2", "-j", "2", "--target=x", "--json", "--", "-var"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v", got)
	}
}

func TestTerminalProgressBars(t *testing.T) {
	workdir(t)
	ios, _, _, errOut := iostreams.Test()
	ios.SetStderrTTY(true)
	f := NewFactory(ios, testStages, nil)
	f.LookupEnv = func(string) (string, bool) { return "", false }
	if code := Run(context.Background(), f, []string{"apply", "-j", "2", "exp.hcl"}); code != ExitOK {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	// pb draws "<prefix> 2 / 2 [...] 100.00%"; no plain progress lines on a terminal.
	if !strings.Contains(errOut.String(), "train.a[seed=0] epoch 2 / 2") {
		t.Errorf("no bar in stderr:\n%q", errOut.String())
	}
	if strings.Contains(errOut.String(), "train.a[seed=0] epoch 2/2") {
		t.Errorf("plain progress line on a terminal:\n%s", errOut.String())
	}
}

func TestGCRemovesStaleTemps(t *testing.T) {
	workdir(t)
	dmlrun(t, "apply", "--target", "dataset.toy", "exp.hcl")
	ks := keys(planJSON(t, "exp.hcl"))
	live, done := ks["train.a[seed=0]"], ks["dataset.toy"]
	dead := strings.Repeat("ab", 32)
	for _, name := range []string{live + ".partial", done + ".partial", dead + ".partial", dead + ".123456", "discard-99"} {
		if err := os.MkdirAll(filepath.Join("results", "tmp", name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r := dmlrun(t, "cache", "gc", "exp.hcl")
	if r.code != ExitOK {
		t.Fatalf("gc: %d\n%s", r.code, r.errOut)
	}
	ents, _ := os.ReadDir(filepath.Join("results", "tmp"))
	var left []string
	for _, e := range ents {
		left = append(left, e.Name())
	}
	if !slices.Equal(left, []string{live + ".partial"}) {
		t.Errorf("tmp/ after gc: %v, want only the partial of the live, uncomputed key", left)
	}
}

func TestDebugKeys(t *testing.T) {
	workdir(t)
	ios, _, _, errOut := iostreams.Test()
	f := NewFactory(ios, testStages, nil)
	f.LookupEnv = func(name string) (string, bool) {
		if name == "DMLRUN_DEBUG_KEYS" {
			return "1", true
		}
		return "", false
	}
	if code := Run(context.Background(), f, []string{"validate", "exp.hcl"}); code != ExitOK {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	for _, want := range []string{"key train.a[seed=1] = ", "  params.schedule.lr = 1e-05", "  params.seed = 1", "  input.0.dataset = "} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

func TestShowCat(t *testing.T) {
	workdir(t)
	dmlrun(t, "apply", "exp.hcl")
	dir := func() string {
		var s ShowJSON
		if err := json.Unmarshal([]byte(dmlrun(t, "show", "--json", "exp.hcl", "train.a[seed=0]").out), &s); err != nil {
			t.Fatal(err)
		}
		return s.Dir
	}()
	want, err := os.ReadFile(filepath.Join(dir, "model.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if r := dmlrun(t, "show", "--cat", "model.txt", "exp.hcl", "train.a[seed=0]"); r.code != ExitOK || r.out != string(want) {
		t.Errorf("--cat model.txt: code %d, out %q, want %q", r.code, r.out, want)
	}
	r := dmlrun(t, "show", "--cat", "../manifest.json", "exp.hcl", "train.a[seed=0]")
	if r.code != ExitError || !strings.Contains(r.errOut, `has no file "../manifest.json" (files: log.txt, model.txt)`) {
		t.Errorf("--cat outside the file list: code %d, %s", r.code, r.errOut)
	}
}
