package report

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"dmlrun/pipeline"
	"dmlrun/spec"
	"dmlrun/stage"
	"dmlrun/stages/evaluate/metrics"
	"dmlrun/store"
)

// labStages are stand-ins for dataset, train, embed and evaluate with the real report
// stage: fast, no libtorch. The fake evaluate writes metrics.json the way the real one
// does, with the train block's name as it was when the node was computed, and a value
// that depends on the configuration, the seed and the split. ran records the nodes run.
type labStages struct {
	mu  sync.Mutex
	ran []string
	reg *stage.Registry
	// train, when set, is written to metrics.json as run.train.
	train map[string]*metrics.Training // by train block name
}

func newLabStages(t *testing.T) *labStages {
	t.Helper()
	l := &labStages{}
	run := func(c *stage.Context) error {
		l.mu.Lock()
		l.ran = append(l.ran, c.Addr)
		l.mu.Unlock()
		return nil
	}
	defs := []*stage.Def{
		{Kind: "dataset", Version: 1, Params: []stage.Param{{Name: "kind", Type: stage.String, Required: true}}, Run: run},
		{Kind: "train", Version: 1, Params: []stage.Param{
			{Name: "dataset", Type: stage.Ref, RefKind: "dataset", Required: true},
			{Name: "seed", Type: stage.Int, Default: int64(0)},
			{Name: "lr", Type: stage.Float, Default: 1e-3},
			{Name: "embed_dim", Type: stage.Int, Default: int64(8)},
		}, Run: run},
		{Kind: "embed", Version: 1, ExpandOver: "models", Params: []stage.Param{
			{Name: "models", Type: stage.RefList, RefKind: "train", Required: true},
			{Name: "dataset", Type: stage.Ref, RefKind: "dataset", Required: true},
			{Name: "split", Type: stage.String, Default: "test"},
		}, Run: run},
		{Kind: "evaluate", Version: 1, ExpandOver: "from", Params: []stage.Param{
			{Name: "from", Type: stage.RefList, RefKind: "embed", Required: true},
			{Name: "kmeans_classes", Type: stage.Int, Default: int64(0)},
		}, Run: func(c *stage.Context) error {
			if err := run(c); err != nil {
				return err
			}
			in := c.InputsOf("from")[0]
			var tr stage.Input
			for _, a := range in.Ancestors {
				if a.Stage == "train" {
					tr = a
				}
			}
			split := in.Params["split"].(string)
			v := 0.5 + tr.Params["lr"].(float64)*10 + float64(tr.Params["embed_dim"].(int64))/1000 + float64(tr.Params["seed"].(int64))/100
			if split == "val" {
				v += 0.2
			}
			res := &metrics.Result{Metrics: map[string]metrics.Value{"e_recall@1": metrics.Value(v)},
				Run: metrics.Run{Block: tr.Block, Addr: tr.Addr, Seed: tr.Params["seed"].(int64), EmbedAddr: in.Addr, Split: split,
					Train: l.train[tr.Block]}}
			return metrics.WriteResult(c.OutDir, res)
		}},
	}
	rep := Def()
	report := rep.Run
	rep.Run = func(c *stage.Context) error {
		if err := run(c); err != nil {
			return err
		}
		return report(c)
	}
	r, err := stage.NewRegistry(append(defs, rep)...)
	if err != nil {
		t.Fatal(err)
	}
	l.reg = r
	return l
}

// apply builds src and applies it into st; it returns the graph and the nodes that ran.
func (l *labStages) apply(t *testing.T, st *store.Store, src string) (*pipeline.Graph, []string) {
	t.Helper()
	exp, diags := spec.Parse("exp.hcl", []byte(src), spec.LoadOptions{Registry: l.reg, LookupEnv: func(string) (string, bool) { return "", false }})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	g, err := pipeline.Build(l.reg, pipeline.FromSpec(exp), pipeline.BuildOptions{Context: context.Background()})
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.MakePlan(g, st, "exp", "exp.hcl", nil)
	if err != nil {
		t.Fatal(err)
	}
	l.ran = nil
	ex := &pipeline.Executor{Store: st, Experiment: "exp", Jobs: 1, Device: "cpu", Threads: 1,
		Provenance: store.Provenance{DmlrunVersion: "test", TorchVersion: "none"}}
	if _, err := ex.Apply(context.Background(), g, p); err != nil {
		t.Fatal(err)
	}
	ran := slices.Clone(l.ran)
	slices.Sort(ran)
	return g, ran
}

// reportJSON reads the report node's table.json.
func reportJSON(t *testing.T, st *store.Store, g *pipeline.Graph, addr string) tableJSON {
	t.Helper()
	art, err := st.Get(g.Node(addr).Key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(art.Dir, "table.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tj tableJSON
	if err := json.Unmarshal(b, &tj); err != nil {
		t.Fatal(err)
	}
	return tj
}

// rowsOf renders the groups of a table as "set | label | n | e_recall@1 mean" lines.
func rowsOf(tj tableJSON) []string {
	var out []string
	for _, g := range tj.Groups {
		m := "–"
		if st := g.Stats["e_recall@1"]; st.Mean != nil {
			m = fmt.Sprintf("%.4f", *st.Mean)
		}
		out = append(out, fmt.Sprintf("%s | %s | %d | %s", g.Evaluate, g.Label, len(g.Runs), m))
	}
	return out
}

const labHead = `
dataset "d" { kind = "toy" }
`

func labTail(blocks ...string) string {
	refs := make([]string, len(blocks))
	for i, b := range blocks {
		refs[i] = "train." + b
	}
	return fmt.Sprintf(`
embed "test" {
  models  = [%s]
  dataset = dataset.d
}
evaluate "test" { from = [embed.test] }
report "table" {
  from    = [evaluate.test]
  formats = ["json"]
}
`, strings.Join(refs, ", "))
}

// Rows are named by the experiment file as it is now, not by what metrics.json recorded
// when the runs were first computed; renaming relabels without retraining, and runs two
// blocks share appear under both.
func TestReportLabelsFollowTheFile(t *testing.T) {
	cases := []struct {
		name        string
		first, then string
		rows        []string
	}{
		{name: "rename a block",
			first: labHead + `train "proxyanchor" {
  dataset = dataset.d
  seeds   = [0, 1]
}` + labTail("proxyanchor"),
			then: labHead + `train "pa_renamed" {
  dataset = dataset.d
  seeds   = [0, 1]
}` + labTail("pa_renamed"),
			rows: []string{"test | pa_renamed | 2 | 0.5230"}},
		{name: "runs first computed by a matrix block",
			first: labHead + `train "pa" {
  dataset = dataset.d
  seeds   = [0, 1]
  matrix  = { lr = [0.001, 0.003] }
}` + labTail("pa"),
			then: labHead + `train "lr1e3" {
  dataset = dataset.d
  seeds   = [0, 1]
  lr      = 0.001
}
train "lr3e3" {
  dataset = dataset.d
  seeds   = [0, 1]
  lr      = 0.003
}` + labTail("lr1e3", "lr3e3"),
			rows: []string{"test | lr1e3 | 2 | 0.5230", "test | lr3e3 | 2 | 0.5430"}},
		{name: "a run two blocks share",
			first: labHead + `train "a" {
  dataset = dataset.d
  seeds   = [0, 1]
}` + labTail("a"),
			then: labHead + `train "a" {
  dataset = dataset.d
  seeds   = [0, 1]
}
train "same_as_a" {
  dataset = dataset.d
  seeds   = [0, 1]
}` + labTail("a", "same_as_a"),
			rows: []string{"test | a | 2 | 0.5230", "test | same_as_a | 2 | 0.5230"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newLabStages(t)
			st, err := store.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			l.apply(t, st, c.first)
			g, ran := l.apply(t, st, c.then)
			if !slices.Equal(ran, []string{"report.table"}) {
				t.Errorf("the second apply ran %v, want only report.table (nothing retrains)", ran)
			}
			if got := rowsOf(reportJSON(t, st, g, "report.table")); !slices.Equal(got, c.rows) {
				t.Errorf("rows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.rows, "\n"))
			}
		})
	}
}

// Only seeds are pooled: one row per matrix instance, one row set per evaluate block.
func TestReportPoolsOnlySeeds(t *testing.T) {
	cases := []struct {
		name string
		src  string
		rows []string
	}{
		{name: "matrix embed_dim x lr",
			src: labHead + `train "pa" {
  dataset = dataset.d
  seeds   = [0, 1]
  matrix  = { embed_dim = [16, 32], lr = [0.001, 0.003] }
}` + labTail("pa"),
			rows: []string{
				"test | pa[embed_dim=16,lr=0.001] | 2 | 0.5310",
				"test | pa[embed_dim=16,lr=0.003] | 2 | 0.5510",
				"test | pa[embed_dim=32,lr=0.001] | 2 | 0.5470",
				"test | pa[embed_dim=32,lr=0.003] | 2 | 0.5670",
			}},
		{name: "val and test",
			src: labHead + `train "pa" {
  dataset = dataset.d
  seeds   = [0, 1]
}
embed "val" {
  models  = [train.pa]
  dataset = dataset.d
  split   = "val"
}
embed "test" {
  models  = [train.pa]
  dataset = dataset.d
}
evaluate "val" { from = [embed.val] }
evaluate "test" { from = [embed.test] }
report "table" {
  from    = [evaluate.val, evaluate.test]
  formats = ["json"]
}
`,
			rows: []string{"val | pa | 2 | 0.7230", "test | pa | 2 | 0.5230"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newLabStages(t)
			st, err := store.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			g, _ := l.apply(t, st, c.src)
			if got := rowsOf(reportJSON(t, st, g, "report.table")); !slices.Equal(got, c.rows) {
				t.Errorf("rows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.rows, "\n"))
			}
		})
	}
}

// tableJSON is table.json as a reader sees it.
type tableJSON struct {
	Groups []struct {
		Evaluate string `json:"evaluate"`
		Label    string `json:"label"`
		Stats    map[string]struct {
			Mean *float64 `json:"mean"`
		} `json:"stats"`
		Runs []json.RawMessage `json:"runs"`
	} `json:"groups"`
}

// diff's sides through the real graph: a configuration of a matrix block (seeds pooled),
// one run, and the errors for an ambiguous or unknown instance.
func TestRunsOfInstances(t *testing.T) {
	l := newLabStages(t)
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	g, _ := l.apply(t, st, labHead+`train "pa" {
  dataset = dataset.d
  seeds   = [0, 1]
  matrix  = { embed_dim = [16, 32], lr = [0.001] }
}`+labTail("pa"))
	cases := []struct {
		instance string
		name     string
		seeds    []int64
		err      string
	}{
		{"embed_dim=16,lr=0.001", "pa[embed_dim=16,lr=0.001]", []int64{0, 1}, ""},
		{"lr=0.001,embed_dim=32", "pa[embed_dim=32,lr=0.001]", []int64{0, 1}, ""},
		{"embed_dim=16,seed=1,lr=0.001", "pa[embed_dim=16,lr=0.001,seed=1]", []int64{1}, ""},
		{"", "", nil, "exp.hcl: train.pa has 2 configurations (matrix instances: pa[embed_dim=16,lr=0.001], pa[embed_dim=32,lr=0.001]) and diff compares one at a time, its seeds pooled: name one, e.g. 'pa[embed_dim=16,lr=0.001]'"},
		{"embed_dim=16", "", nil, "exp.hcl: train.pa has no instance [embed_dim=16]; its configurations are pa[embed_dim=16,lr=0.001], pa[embed_dim=32,lr=0.001] (add ,seed=N for one run)"},
	}
	for _, c := range cases {
		t.Run(c.instance, func(t *testing.T) {
			sd, err := RunsOf(g, st, RunsQuery{File: "exp.hcl", Block: "pa", Instance: c.instance}, io.Discard)
			if c.err != "" {
				if err == nil || err.Error() != c.err {
					t.Errorf("error %v\nwant %s", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var seeds []int64
			for _, r := range sd.Runs {
				seeds = append(seeds, r.Seed)
				if r.TestData.id() == "" || r.TestData.Split != "test" || r.Settings["kmeans_classes"] != "0" {
					t.Errorf("run %s: test data %+v, settings %v", r.Addr, r.TestData, r.Settings)
				}
			}
			slices.Sort(seeds)
			if sd.Name != c.name || sd.Evaluate != "test" || !slices.Equal(seeds, c.seeds) {
				t.Errorf("side %q of %q with seeds %v, want %q with %v", sd.Name, sd.Evaluate, seeds, c.name, c.seeds)
			}
		})
	}
}

// Sides evaluated on different data or with different metric settings are found through
// the lineage (the dataset node's key, the split, the evaluate parameters).
func TestDiffFindsIncomparableSides(t *testing.T) {
	file := func(kind, split string, k int) string {
		return fmt.Sprintf(`
dataset "d" { kind = %q }
train "nir" {
  dataset = dataset.d
  seeds   = [0, 1, 2]
}
embed "e" {
  models  = [train.nir]
  dataset = dataset.d
  split   = %q
}
evaluate "test" {
  from           = [embed.e]
  kmeans_classes = %d
}
`, kind, split, k)
	}
	side := func(t *testing.T, src string) Side {
		l := newLabStages(t)
		st, err := store.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		g, _ := l.apply(t, st, src)
		sd, err := RunsOf(g, st, RunsQuery{File: "exp.hcl", Block: "nir"}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		return *sd
	}
	base := side(t, file("toy", "test", 0))
	cases := []struct {
		name string
		src  string
		want string // "" for comparable
	}{
		{"same", file("toy", "test", 0), ""},
		{"other dataset", file("other", "test", 0), "different test data: nir was evaluated on dataset.d (key "},
		{"other split", file("toy", "val", 0), ", val split"},
		{"other kmeans_classes", file("toy", "test", 7), "different metric settings (nir vs nir): kmeans_classes 0 vs 7"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := strings.Join(Diff(base, side(t, c.src), DiffOptions{}).Incomparable, "\n")
			if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
				t.Errorf("incomparable %q, want %q", got, c.want)
			}
		})
	}
}

// The retrieval picture's parameters change no number, so two runs that differ only in
// them are comparable; a metric setting still is not.
func TestSettingsLeaveOutTheRetrievalPicture(t *testing.T) {
	res := &metrics.Result{}
	a := settingsOf(map[string]any{"metrics": []string{"nmi"}, "kmeans_classes": int64(0), "retrieval_queries": int64(8), "retrieval_k": int64(5), "retrieval_seed": int64(0)}, res)
	b := settingsOf(map[string]any{"metrics": []string{"f1"}, "kmeans_classes": int64(0), "retrieval_queries": int64(0), "retrieval_k": int64(1), "retrieval_seed": int64(3)}, res)
	if len(a) != 1 || a["kmeans_classes"] != "0" || fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("settings %v and %v, want only kmeans_classes in both", a, b)
	}
}
