package diff

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dmlrun/internal/cli/cmdutil"
	goldenfile "dmlrun/internal/golden"
	"dmlrun/internal/iostreams"
	"dmlrun/spec"
	"dmlrun/stages/evaluate/evaltest"
	"dmlrun/stages/evaluate/gallery"
	"dmlrun/stages/evaluate/metrics"
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
		want    Options // compared fields: A, B, File, Check, Expect, JSON, Evaluate
		wantErr string
	}{
		{name: "file a b", args: []string{"exp.hcl", "baseline", "nir"},
			want: Options{A: side{File: "exp.hcl", Block: "baseline"}, B: side{File: "exp.hcl", Block: "nir"}}},
		{name: "two files", args: []string{"cub.hcl:baseline", "cars.hcl:train.nir", "--json"},
			want: Options{A: side{File: "cub.hcl", Block: "baseline"}, B: side{File: "cars.hcl", Block: "nir"}, JSON: true}},
		{name: "matrix instances", args: []string{"sweep.hcl", "pa[embed_dim=16]", "train.pa[embed_dim=32]"},
			want: Options{A: side{File: "sweep.hcl", Block: "pa", Instance: "embed_dim=16"}, B: side{File: "sweep.hcl", Block: "pa", Instance: "embed_dim=32"}}},
		{name: "one run", args: []string{"sweep.hcl", "pa[embed_dim=16,seed=0]", "pa[embed_dim=16,seed=1]"},
			want: Options{A: side{File: "sweep.hcl", Block: "pa", Instance: "embed_dim=16,seed=0"}, B: side{File: "sweep.hcl", Block: "pa", Instance: "embed_dim=16,seed=1"}}},
		{name: "two evaluate blocks", args: []string{"exp.hcl", "nir@val", "nir@evaluate.test"},
			want: Options{A: side{File: "exp.hcl", Block: "nir", Evaluate: "val"}, B: side{File: "exp.hcl", Block: "nir", Evaluate: "test"}}},
		{name: "file, instance and evaluate", args: []string{"a.hcl:pa[arch=\"x:y\"]@val", "b.hcl:pa"},
			want: Options{A: side{File: "a.hcl", Block: "pa", Instance: `arch="x:y"`, Evaluate: "val"}, B: side{File: "b.hcl", Block: "pa"}}},
		{name: "evaluate flag", args: []string{"exp.hcl", "a", "b", "--evaluate", "evaluate.val"},
			want: Options{A: side{File: "exp.hcl", Block: "a"}, B: side{File: "exp.hcl", Block: "b"}, Evaluate: "val"}},
		{name: "check file", args: []string{"--check", "exp.hcl"}, want: Options{File: "exp.hcl", Check: true}},
		{name: "check with tolerance", args: []string{"exp.hcl", "a", "b", "--check", "--tolerance", "e_recall@1=0.02"},
			want: Options{A: side{File: "exp.hcl", Block: "a"}, B: side{File: "exp.hcl", Block: "b"}, Check: true}},
		{name: "expect", args: []string{"--expect", "e.json", "exp.hcl", "nir"},
			want: Options{B: side{File: "exp.hcl", Block: "nir"}, Expect: "e.json"}},
		{name: "expect colon", args: []string{"--expect", "e.json", "exp.hcl:nir"},
			want: Options{B: side{File: "exp.hcl", Block: "nir"}, Expect: "e.json"}},
		{name: "file alone without check", args: []string{"exp.hcl"}, wantErr: "only --check accepts FILE alone"},
		{name: "two args without colons", args: []string{"a", "b"}, wantErr: "FILE:BLOCK"},
		{name: "file twice", args: []string{"exp.hcl", "exp.hcl:a", "b"}, wantErr: "give the file once"},
		{name: "unclosed instance", args: []string{"exp.hcl", "pa[embed_dim=16", "b"}, wantErr: "BLOCK[key=value,...]"},
		{name: "empty instance", args: []string{"exp.hcl", "pa[]", "b"}, wantErr: "BLOCK[key=value,...]"},
		{name: "empty evaluate", args: []string{"exp.hcl", "pa@", "b"}, wantErr: "must follow @"},
		{name: "not a train block", args: []string{"exp.hcl", "evaluate.test", "b"}, wantErr: "want a train block name"},
		{name: "tolerance without check", args: []string{"f", "a", "b", "--tolerance", "nmi=0.1"}, wantErr: "--tolerance needs --check"},
		{name: "bad tolerance", args: []string{"f", "a", "b", "--check", "--tolerance", "nmi"}, wantErr: "metric=value"},
		{name: "negative tolerance", args: []string{"f", "a", "b", "--check", "--tolerance", "nmi=-1"}, wantErr: "metric=value"},
		{name: "four args", args: []string{"f", "a", "b", "c"}, wantErr: "got 4 argument(s)"},
		{name: "expect and tolerance", args: []string{"--expect", "e", "--check", "--tolerance", "nmi=1", "f", "b"}, wantErr: "own tolerances"},
		{name: "bootstrap flags are gone", args: []string{"f", "a", "b", "--resamples", "100"}, wantErr: "unknown flag: --resamples"},
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
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || (!errors.As(err, &fe) && !strings.Contains(err.Error(), "unknown flag")) {
					t.Fatalf("error %v, want a FlagError containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.A != c.want.A || got.B != c.want.B || got.File != c.want.File || got.Check != c.want.Check ||
				got.Expect != c.want.Expect || got.JSON != c.want.JSON || got.Evaluate != c.want.Evaluate {
				t.Errorf("options %+v", got)
			}
		})
	}
}

// fakeSource serves sides from memory, by "file:block[instance]@evaluate".
type fakeSource struct {
	sides    map[string]*report.Side
	checks   map[string]map[string]spec.Check
	datasets map[string]string // key -> artifact directory
}

func (f *fakeSource) Side(file, block, instance, evaluate string) (*report.Side, error) {
	k := side{File: file, Block: block, Instance: instance, Evaluate: evaluate}.String()
	s, ok := f.sides[k]
	if !ok {
		return nil, fmt.Errorf("fake: no side %s", k)
	}
	return s, nil
}

func (f *fakeSource) Checks(file string) (map[string]spec.Check, error) { return f.checks[file], nil }

func (f *fakeSource) Dataset(ref report.DatasetRef) (string, error) {
	d, ok := f.datasets[ref.Key]
	if !ok {
		return "", fmt.Errorf("fake: no dataset %s", ref.Key)
	}
	return d, nil
}

// mkSide is a side of len(r1) runs evaluated on the given dataset key and split.
func mkSide(name, eval, dataKey, split string, r1, nmi []float64) *report.Side {
	s := &report.Side{Name: name, Evaluate: eval}
	for i := range r1 {
		s.Runs = append(s.Runs, report.Run{Label: name, Block: name, Seed: int64(i), Addr: fmt.Sprintf("train.%s[seed=%d]", name, i),
			Metrics:  map[string]float64{"e_recall@1": r1[i], "nmi": nmi[i]},
			TestData: report.TestData{Datasets: []report.DatasetRef{{Addr: "dataset.d", Key: dataKey}}, Split: split},
			Settings: map[string]string{"kmeans_classes": "0", "faiss_rand_int": `"modulo"`}})
	}
	return s
}

func fake() *fakeSource {
	pa16 := mkSide("pa[embed_dim=16]", "test", "cubkey", "test", []float64{0.60, 0.61, 0.62}, []float64{0.70, 0.71, 0.69})
	pa32 := mkSide("pa[embed_dim=32]", "test", "cubkey", "test", []float64{0.63, 0.64, 0.65}, []float64{0.70, 0.72, 0.69})
	one := mkSide("solo", "test", "cubkey", "test", []float64{0.5}, []float64{0.6})
	two := mkSide("duo", "test", "cubkey", "test", []float64{0.90, 0.91}, []float64{0.7, 0.71})
	two2 := mkSide("duo2", "test", "cubkey", "test", []float64{0.80, 0.81}, []float64{0.7, 0.72})
	nirVal := mkSide("nir", "val", "cubkey", "val", []float64{0.71, 0.716, 0.712}, []float64{0.8, 0.81, 0.805})
	settings := mkSide("nir", "test", "cubkey", "test", []float64{0.610, 0.615, 0.612}, []float64{0.705, 0.712, 0.70})
	for i := range settings.Runs {
		settings.Runs[i].Settings = map[string]string{"kmeans_classes": "100", "faiss_rand_int": `"modulo"`}
	}
	shaky := mkSide("shaky", "test", "cubkey", "test", []float64{0.3, 0.31, 0.32}, []float64{0.5, 0.5, 0.5})
	for i := range shaky.Runs {
		shaky.Runs[i].Training = &metrics.Training{Epochs: 10, Steps: 90, Skipped: 10 * (i % 2), SelectedEpoch: 4, Selection: "test:e_recall@1"}
	}
	floor := mkSide("floor", "test", "cubkey", "test", []float64{0.05, 0.06, 0.05}, []float64{0.1, 0.1, 0.1})
	for i := range floor.Runs {
		floor.Runs[i].Training = &metrics.Training{SelectedEpoch: -1}
	}
	return &fakeSource{
		sides: map[string]*report.Side{
			"exp.hcl:baseline":           mkSide("baseline", "test", "cubkey", "test", []float64{0.640, 0.645, 0.650}, []float64{0.70, 0.71, 0.69}),
			"exp.hcl:nir":                mkSide("nir", "test", "cubkey", "test", []float64{0.610, 0.615, 0.612}, []float64{0.705, 0.712, 0.70}),
			"exp.hcl:nir@val":            nirVal,
			"exp.hcl:nir@test":           mkSide("nir", "test", "cubkey", "test", []float64{0.610, 0.615, 0.612}, []float64{0.705, 0.712, 0.70}),
			"other.hcl:nir":              mkSide("nir", "test", "cubkey", "test", []float64{0.66, 0.67, 0.665}, []float64{0.71, 0.72, 0.70}),
			"cars.hcl:nir":               mkSide("nir", "test", "carskey", "test", []float64{0.66, 0.67, 0.665}, []float64{0.71, 0.72, 0.70}),
			"k100.hcl:nir":               settings,
			"sweep.hcl:pa[embed_dim=16]": pa16,
			"sweep.hcl:pa[embed_dim=32]": pa32,
			"small.hcl:solo":             one,
			"small.hcl:duo":              two,
			"small.hcl:duo2":             two2,
			"small.hcl:shaky":            shaky,
			"small.hcl:floor":            floor,
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
		{"matrix_instances", []string{"sweep.hcl", "pa[embed_dim=16]", "pa[embed_dim=32]"}, false},
		{"two_evaluate_blocks", []string{"exp.hcl", "nir@val", "nir@test"}, false},
		{"one_seed_per_side", []string{"small.hcl", "solo", "solo"}, false},
		{"two_seeds", []string{"small.hcl", "duo", "duo2"}, false},
		{"training_notes", []string{"small.hcl", "floor", "shaky"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ios, _, out, errOut := iostreams.Test()
			cmd := NewCmd(&cmdutil.Factory{IOStreams: ios}, func(o *Options) error { o.Source = fake(); return run(o) })
			cmd.SetArgs(c.args)
			cmd.SilenceUsage, cmd.SilenceErrors = true, true
			err := cmd.Execute()
			var re *cmdutil.RegressionError
			if c.regression != errors.As(err, &re) || (err != nil && re == nil) {
				t.Fatalf("error %v, regression expected %v", err, c.regression)
			}
			got := out.String()
			if errOut.Len() > 0 {
				got += "--- stderr\n" + errOut.String()
			}
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

// Sides evaluated on different test data or with different metric settings: diff warns
// and shows the table; --check and --expect refuse to pass or fail on them (exit 1, not 3).
func TestDiffIncomparableSides(t *testing.T) {
	dir := t.TempDir()
	exp := filepath.Join(dir, "expected.json")
	os.WriteFile(exp, []byte(`{"metrics": {"e_recall@1": {"mean": 0.62, "tolerance": 0.5}}}`), 0o644)
	cases := []struct {
		name    string
		args    []string
		warning string // on stderr, "" for none
		fails   bool
	}{
		{"different datasets", []string{"exp.hcl:nir", "cars.hcl:nir"},
			"different test data: exp.hcl:nir was evaluated on dataset.d (key cubkey), test split, cars.hcl:nir on dataset.d (key carskey), test split", false},
		{"different datasets, --check", []string{"exp.hcl:nir", "cars.hcl:nir", "--check", "--tolerance", "e_recall@1=0.5"}, "different test data", true},
		{"different splits", []string{"exp.hcl", "nir@val", "nir@test"}, "nir@val was evaluated on dataset.d (key cubkey), val split", false},
		{"different metric settings", []string{"exp.hcl:nir", "k100.hcl:nir"},
			`different metric settings (exp.hcl:nir vs k100.hcl:nir): kmeans_classes 0 vs 100`, false},
		{"different metric settings, --check", []string{"exp.hcl:nir", "k100.hcl:nir", "--check", "--tolerance", "nmi=1"}, "kmeans_classes 0 vs 100", true},
		{"same test data", []string{"exp.hcl:nir", "other.hcl:nir", "--check", "--tolerance", "e_recall@1=0.5"}, "", false},
		{"expected values have no lineage", []string{"--expect", exp, "exp.hcl", "nir"}, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ios, _, out, errOut := iostreams.Test()
			cmd := NewCmd(&cmdutil.Factory{IOStreams: ios}, func(o *Options) error { o.Source = fake(); return run(o) })
			cmd.SetArgs(c.args)
			cmd.SilenceUsage, cmd.SilenceErrors = true, true
			err := cmd.Execute()
			if got := errOut.String(); (c.warning == "") != (got == "") || !strings.Contains(got, c.warning) {
				t.Errorf("stderr %q, want a warning with %q", got, c.warning)
			}
			var re *cmdutil.RegressionError
			switch {
			case c.fails && (err == nil || errors.As(err, &re) || !strings.Contains(err.Error(), "cannot check: the sides do not measure the same thing")):
				t.Errorf("error %v, want one refusing the check", err)
			case !c.fails && err != nil:
				t.Errorf("error %v", err)
			}
			if !strings.Contains(out.String(), "e_recall@1") {
				t.Errorf("no table:\n%s", out.String())
			}
		})
	}
}

// queryFake serves single-run sides with per-query neighbour lists (the constructed case
// of stages/report's tests: A right and B wrong on queries 0 and 4, the reverse on 2, 5
// and 7) and the toy dataset their images come from.
func queryFake(t *testing.T) *fakeSource {
	t.Helper()
	labels := []int64{0, 0, 1, 1, 2, 2, 3, 3, 4, 4}
	run := func(name string, top []int32, dataKey string, seed int64) report.Run {
		dir := t.TempDir()
		idx := make([]int32, 0, 2*len(top))
		for i, j := range top {
			idx = append(idx, j, int32((i+5)%len(top)))
		}
		if err := metrics.WriteNeighbours(dir, metrics.QueryNeighbours{Neighbours: metrics.Neighbours{Idx: idx, K: 2}, Labels: labels}); err != nil {
			t.Fatal(err)
		}
		hits := 0
		for i, j := range top {
			if labels[j] == labels[i] {
				hits++
			}
		}
		return report.Run{Label: name, Block: name, Seed: seed, Addr: fmt.Sprintf("train.%s[seed=%d]", name, seed), Split: "test", Dir: dir,
			EvalAddr: fmt.Sprintf("evaluate.test[embed.test[train.%s[seed=%d]]]", name, seed),
			Metrics:  map[string]float64{"e_recall@1": float64(hits) / 10},
			TestData: report.TestData{Datasets: []report.DatasetRef{{Addr: "dataset.toy", Key: dataKey}}, Split: "test"}}
	}
	topA := []int32{1, 0, 4, 2, 5, 6, 7, 0, 0, 8}
	topB := []int32{2, 0, 3, 2, 0, 4, 7, 6, 1, 8}
	side := func(name string, runs ...report.Run) *report.Side {
		return &report.Side{Name: name, Evaluate: "test", Runs: runs}
	}
	return &fakeSource{
		sides: map[string]*report.Side{
			"q.hcl:a":     side("a", run("a", topA, "toykey", 0)),
			"q.hcl:b":     side("b", run("b", topB, "toykey", 0)),
			"q.hcl:multi": side("multi", run("multi", topB, "toykey", 0), run("multi", topB, "toykey", 1)),
			"q.hcl:cars":  side("cars", run("cars", topB, "carskey", 0)),
			"q.hcl:gone":  side("gone", run("gone", topB, "gonekey", 0)),
		},
		datasets: map[string]string{
			"toykey":  evaltest.WriteDataset(t, t.TempDir(), "test", []string{"zero", "one", "two", "three", "four"}, labels),
			"carskey": evaltest.WriteDataset(t, t.TempDir(), "test", []string{"zero", "one", "two", "three", "four"}, labels),
		},
	}
}

func runQueries(t *testing.T, src *fakeSource, args ...string) (string, string, error) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	cmd := NewCmd(&cmdutil.Factory{IOStreams: ios}, func(o *Options) error { o.Source = src; return run(o) })
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

// flags -> options for --queries
func TestDiffQueriesArgs(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		queries bool
		png     string
		wantErr string
	}{
		{name: "queries", args: []string{"f", "a", "b", "--queries"}, queries: true},
		{name: "png implies queries", args: []string{"f", "a", "b", "--queries-png", "x.png"}, queries: true, png: "x.png"},
		{name: "not with expect", args: []string{"--expect", "e.json", "f", "b", "--queries"}, wantErr: "--expect has expected values, not runs"},
		{name: "not with check FILE", args: []string{"--check", "f", "--queries"}, wantErr: "give FILE A B"},
		{name: "max at least 1", args: []string{"f", "a", "b", "--queries-png", "x.png", "--queries-max", "0"}, wantErr: "at least 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			var got *Options
			cmd := NewCmd(&cmdutil.Factory{IOStreams: ios}, func(o *Options) error { got = o; return nil })
			cmd.SetArgs(c.args)
			cmd.SilenceUsage, cmd.SilenceErrors = true, true
			err := cmd.Execute()
			var fe *cmdutil.FlagError
			if c.wantErr != "" {
				if !errors.As(err, &fe) || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want a FlagError containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil || got.Queries != c.queries || got.QueriesPNG != c.png {
				t.Errorf("error %v, options %+v", err, got)
			}
		})
	}
}

// options -> output: the per-query listing after the metric table, as text and JSON, and
// the picture of the flips.
func TestDiffQueries(t *testing.T) {
	src := queryFake(t)
	out, errOut, err := runQueries(t, src, "q.hcl", "a", "b", "--queries")
	if err != nil || errOut != "" {
		t.Fatalf("error %v, stderr %q", err, errOut)
	}
	golden(t, "diff_queries.txt", []byte(out))

	out, _, err = runQueries(t, src, "q.hcl", "a", "b", "--queries", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var js []struct {
		Queries struct {
			AOnly []struct{ Query int } `json:"a_right_b_wrong"`
			BOnly []struct{ Query int } `json:"a_wrong_b_right"`
		} `json:"queries"`
	}
	if err := json.Unmarshal([]byte(out), &js); err != nil || len(js) != 1 || len(js[0].Queries.AOnly) != 2 || len(js[0].Queries.BOnly) != 3 || js[0].Queries.BOnly[2].Query != 7 {
		t.Errorf("json %v: %s", err, out)
	}

	pngPath := filepath.Join(t.TempDir(), "flips.png")
	_, errOut, err = runQueries(t, src, "q.hcl", "a", "b", "--queries-png", pngPath)
	if err != nil || !strings.Contains(errOut, "wrote "+pngPath+": 2 + 3 flipped queries") {
		t.Fatalf("error %v, stderr %q", err, errOut)
	}
	b, err := os.ReadFile(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	// the first flip drawn: query 0 (dark border, its own colour), A's top-1 image 1
	// (green: class zero), B's top-1 image 2 (red: class one)
	data, p, err := report.OpenQueryData("dataset.toy", src.datasets["toykey"], "test")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	f, err := report.QueryDiff(src.sides["q.hcl:a"].Runs[0], src.sides["q.hcl:b"].Runs[0], "a", "b", data)
	if err != nil {
		t.Fatal(err)
	}
	_, lay := f.FlipSheet(data, 24).Draw()
	for ti, want := range []struct {
		border color.RGBA
		image  int
	}{{gallery.QueryColour, 0}, {gallery.HitColour, 1}, {gallery.MissColour, 2}} {
		r := lay.Tiles[0][0][ti]
		if got := rgbaAt(img, r.Min.X, r.Min.Y); got != want.border {
			t.Errorf("tile %d border %v, want %v", ti, got, want.border)
		}
		if got := rgbaAt(img, (r.Min.X+r.Max.X)/2, (r.Min.Y+r.Max.Y)/2); got != evaltest.Colour(want.image) {
			t.Errorf("tile %d shows %v, want image %d (%v)", ti, got, want.image, evaltest.Colour(want.image))
		}
	}
}

func rgbaAt(img image.Image, x, y int) color.RGBA {
	r, g, b, a := img.At(x, y).RGBA()
	return color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), uint8(a >> 8)}
}

// --queries takes one run per side, the same test data on both, and draws only with the
// dataset's images.
func TestDiffQueriesRefusals(t *testing.T) {
	src := queryFake(t)
	cases := []struct {
		name     string
		args     []string
		want     string
		flagErr  bool
		warning  string
		succeeds bool
	}{
		{name: "several runs", args: []string{"q.hcl", "a", "multi", "--queries"}, want: "multi has 2 runs (seeds 0, 1)", flagErr: true},
		{name: "different test data", args: []string{"q.hcl", "a", "cars", "--queries"}, want: "per-query results compare the same queries"},
		{name: "dataset gone: listing with class numbers", args: []string{"q.hcl", "gone", "gone", "--queries"}, warning: "no images: dataset.toy is not in the store", succeeds: true},
		{name: "dataset gone: no picture", args: []string{"q.hcl", "gone", "gone", "--queries-png", filepath.Join(t.TempDir(), "x.png")}, want: "no images to draw"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errOut, err := runQueries(t, src, c.args...)
			var fe *cmdutil.FlagError
			switch {
			case c.succeeds && err != nil:
				t.Errorf("error %v", err)
			case !c.succeeds && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("error %v, want %q", err, c.want)
			case !c.succeeds && c.flagErr != errors.As(err, &fe):
				t.Errorf("error %v: flag error %v, want %v", err, !c.flagErr, c.flagErr)
			}
			if !strings.Contains(errOut, c.warning) {
				t.Errorf("stderr %q, want %q", errOut, c.warning)
			}
		})
	}
}
