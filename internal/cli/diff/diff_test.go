package diff

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dmlrun/internal/cli/cmdutil"
	goldenfile "dmlrun/internal/golden"
	"dmlrun/internal/iostreams"
	"dmlrun/spec"
	"dmlrun/stages/report"
)

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Compare(t, filepath.Join("testdata", name+".golden"), got)
}

// flags -> options
func TestDiffArgs(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		want    Options // compared fields: A, B, File, Check, Expect, JSON
		wantErr string
	}{
		{name: "file a b", args: []string{"exp.hcl", "baseline", "nir"},
			want: Options{A: side{"exp.hcl", "baseline"}, B: side{"exp.hcl", "nir"}}},
		{name: "two files", args: []string{"cub.hcl:baseline", "cars.hcl:train.nir", "--json"},
			want: Options{A: side{"cub.hcl", "baseline"}, B: side{"cars.hcl", "train.nir"}, JSON: true}},
		{name: "check file", args: []string{"--check", "exp.hcl"}, want: Options{File: "exp.hcl", Check: true}},
		{name: "check with tolerance", args: []string{"exp.hcl", "a", "b", "--check", "--tolerance", "e_recall@1=0.02"},
			want: Options{A: side{"exp.hcl", "a"}, B: side{"exp.hcl", "b"}, Check: true}},
		{name: "expect", args: []string{"--expect", "e.json", "exp.hcl", "nir"},
			want: Options{B: side{"exp.hcl", "nir"}, Expect: "e.json"}},
		{name: "expect colon", args: []string{"--expect", "e.json", "exp.hcl:nir"},
			want: Options{B: side{"exp.hcl", "nir"}, Expect: "e.json"}},
		{name: "file alone without check", args: []string{"exp.hcl"}, wantErr: "only --check accepts FILE alone"},
		{name: "two args without colons", args: []string{"a", "b"}, wantErr: "FILE:BLOCK"},
		{name: "tolerance without check", args: []string{"f", "a", "b", "--tolerance", "nmi=0.1"}, wantErr: "--tolerance needs --check"},
		{name: "bad tolerance", args: []string{"f", "a", "b", "--check", "--tolerance", "nmi"}, wantErr: "metric=value"},
		{name: "negative tolerance", args: []string{"f", "a", "b", "--check", "--tolerance", "nmi=-1"}, wantErr: "metric=value"},
		{name: "four args", args: []string{"f", "a", "b", "c"}, wantErr: "got 4 argument(s)"},
		{name: "expect and tolerance", args: []string{"--expect", "e", "--check", "--tolerance", "nmi=1", "f", "b"}, wantErr: "own tolerances"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			var got *Options
			cmd := NewCmd(&cmdutil.Factory{IOStreams: ios}, func(o *Options) error { got = o; return nil })
			cmd.SetArgs(c.args)
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			cmd.SilenceUsage, cmd.SilenceErrors = true, true
			err := cmd.Execute()
			if c.wantErr != "" {
				var fe *cmdutil.FlagError
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || !errors.As(err, &fe) {
					t.Fatalf("error %v, want a FlagError containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.A != c.want.A || got.B != c.want.B || got.File != c.want.File || got.Check != c.want.Check ||
				got.Expect != c.want.Expect || got.JSON != c.want.JSON || got.Resamples != 10000 || got.Seed != 1 {
				t.Errorf("options %+v", got)
			}
		})
	}
}

// fakeSource serves runs from memory.
type fakeSource struct {
	runs   map[string][]report.Run // "file:block"
	checks map[string]map[string]spec.Check
}

func (f *fakeSource) Runs(file, block, _ string) ([]report.Run, error) {
	r, ok := f.runs[file+":"+blockName(block)]
	if !ok {
		return nil, fmt.Errorf("%s: no train block %q", file, block)
	}
	return r, nil
}

func (f *fakeSource) Checks(file string) (map[string]spec.Check, error) { return f.checks[file], nil }

func mkRuns(block string, r1 []float64, nmi []float64) []report.Run {
	var out []report.Run
	for i := range r1 {
		out = append(out, report.Run{Block: block, Seed: int64(i), Addr: fmt.Sprintf("train.%s[seed=%d]", block, i),
			Metrics: map[string]float64{"e_recall@1": r1[i], "nmi": nmi[i]}})
	}
	return out
}

func fake() *fakeSource {
	return &fakeSource{
		runs: map[string][]report.Run{
			"exp.hcl:baseline": mkRuns("baseline", []float64{0.640, 0.645, 0.650}, []float64{0.70, 0.71, 0.69}),
			"exp.hcl:nir":      mkRuns("nir", []float64{0.610, 0.615, 0.612}, []float64{0.705, 0.712, 0.70}),
			"other.hcl:nir":    mkRuns("nir", []float64{0.66, 0.67, 0.665}, []float64{0.71, 0.72, 0.70}),
		},
		checks: map[string]map[string]spec.Check{"exp.hcl": {
			"nir_not_worse": {Baseline: "train.baseline", Candidate: "train.nir", Tolerances: map[string]float64{"e_recall@1": 0.02}},
			"nmi_gate":      {Baseline: "train.baseline", Candidate: "train.nir", Tolerances: map[string]float64{"nmi": 0.05}},
		}},
	}
}

// options -> output
func TestDiffOutputs(t *testing.T) {
	dir := t.TempDir()
	exp := filepath.Join(dir, "expected.json")
	os.WriteFile(exp, []byte(`{"name": "cub nir", "metrics": {"e_recall@1": {"mean": 0.62, "tolerance": 0.01}}}`), 0o644)
	cases := []struct {
		name       string
		args       []string
		regression bool
	}{
		{"plain", []string{"exp.hcl", "baseline", "nir"}, false},
		{"json", []string{"exp.hcl", "baseline", "nir", "--json"}, false},
		{"two_files", []string{"exp.hcl:nir", "other.hcl:nir"}, false},
		{"check_flags_pass", []string{"exp.hcl", "baseline", "nir", "--check", "--tolerance", "e_recall@1=0.05"}, false},
		{"check_flags_fail", []string{"exp.hcl", "baseline", "nir", "--check", "--tolerance", "e_recall@1=0.02", "--tolerance", "nmi=0.01"}, true},
		{"check_blocks_pair", []string{"exp.hcl", "baseline", "nir", "--check"}, true},
		{"check_all_blocks", []string{"--check", "exp.hcl"}, true},
		{"check_all_blocks_json", []string{"--check", "exp.hcl", "--json"}, true},
		{"expect", []string{"--expect", exp, "exp.hcl", "nir", "--metrics", "e_recall@1"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ios, _, out, _ := iostreams.Test()
			cmd := NewCmd(&cmdutil.Factory{IOStreams: ios}, func(o *Options) error { o.Source = fake(); return run(o) })
			cmd.SetArgs(c.args)
			cmd.SilenceUsage, cmd.SilenceErrors = true, true
			err := cmd.Execute()
			var re *cmdutil.RegressionError
			if c.regression != errors.As(err, &re) || (err != nil && re == nil) {
				t.Fatalf("error %v, regression expected %v", err, c.regression)
			}
			got := out.String()
			if re != nil {
				got += "--- error\n" + re.Error() + "\n"
			}
			golden(t, "diff_"+c.name+".txt", []byte(strings.ReplaceAll(got, dir, "DIR")))
		})
	}
}

func TestDiffCheckWithoutTolerances(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	src := fake()
	src.checks = nil
	cmd := NewCmd(&cmdutil.Factory{IOStreams: ios}, func(o *Options) error { o.Source = src; return run(o) })
	cmd.SetArgs([]string{"exp.hcl", "baseline", "nir", "--check"})
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	var fe *cmdutil.FlagError
	if err := cmd.Execute(); !errors.As(err, &fe) || !strings.Contains(err.Error(), "no tolerances") {
		t.Errorf("error %v", err)
	}
}
