package evaluate

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"dmlrun/safetensors"
	"dmlrun/stage"
	"dmlrun/stages/embed"
	"dmlrun/stages/evaluate/metrics"
	"dmlrun/torch"
)

type refFile struct {
	Embedding struct {
		N, D     int
		X        []float32          `json:"x"`
		Labels   []int64            `json:"labels"`
		Expected map[string]float64 `json:"expected"`
	} `json:"embedding"`
	KMeans []struct {
		Name      string
		N, D, K   int
		Iters     int
		X         []float32 `json:"x"`
		Centroids []float32 `json:"centroids"`
		Labels    []int32   `json:"labels"`
	} `json:"kmeans"`
}

func loadRef(t *testing.T) *refFile {
	b, err := os.ReadFile("testdata/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var r refFile
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func cpu() TorchBackend { return TorchBackend{Device: torch.CPUDevice} }

// searchPinned and kmeansPinned call the backend the way the stage does: inside torch.Pinned.
func searchPinned(b TorchBackend, x metrics.Matrix, k int, ip bool) (out []int32, err error) {
	err = torch.Pinned(0, func() error {
		out, err = metrics.SearchSelf(b, x, k, ip)
		return err
	})
	return out, err
}

func kmeansPinned(x metrics.Matrix, k int, opt metrics.KMeansOptions, b TorchBackend) (res *metrics.KMeansResult, err error) {
	err = torch.Pinned(0, func() error {
		res, err = metrics.KMeans(x, k, opt, b)
		return err
	})
	return res, err
}

// The torch backend must give the same neighbour lists as the pure-Go one through
// SearchSelf (exact duplicates grouped), up to near-ties decided by float rounding: BLAS
// and the Go loop sum dot products in different orders.
func TestTorchSearchMatchesGo(t *testing.T) {
	r := loadRef(t)
	x := metrics.Matrix{Data: r.Embedding.X, Rows: r.Embedding.N, Cols: r.Embedding.D}
	// with exact duplicates: rows 0..9 copied to rows 300..309, and a block of zeros
	dup := append(append([]float32(nil), x.Data...), x.Data[:10*x.Cols]...)
	dup = append(dup, make([]float32, 5*x.Cols)...)
	xd := metrics.Matrix{Data: dup, Rows: x.Rows + 15, Cols: x.Cols}
	small := TorchBackend{Device: torch.CPUDevice, ChunkBytes: 1} // the minimum: 128-row chunks, 3 of them
	for _, m := range []metrics.Matrix{x, xd} {
		for _, ip := range []bool{false, true} {
			for _, k := range []int{1, 2, 11, m.Rows} {
				want, err := metrics.SearchSelf(metrics.GoBackend{}, m, k, ip)
				if err != nil {
					t.Fatal(err)
				}
				for _, b := range []TorchBackend{cpu(), small} {
					got, err := searchPinned(b, m, k, ip)
					if err != nil {
						t.Fatal(err)
					}
					near := 0
					for d := range got {
						if got[d] == want[d] {
							continue
						}
						q := d / k
						sg, sw := score64(m, q, int(got[d]), ip), score64(m, q, int(want[d]), ip)
						if math.Abs(sg-sw) > 1e-5*math.Max(1, math.Abs(sw)) {
							t.Fatalf("rows %d ip=%v k=%d chunk %d: query %d rank %d: torch %d (%g), go %d (%g)",
								m.Rows, ip, k, b.ChunkBytes, q, d%k, got[d], sg, want[d], sw)
						}
						near++
					}
					if k <= 11 && near > 0 {
						t.Errorf("rows %d ip=%v k=%d: %d near-tie swaps among close neighbours", m.Rows, ip, k, near)
					}
				}
			}
		}
	}
	// The duplicate rule itself: row 300 is a copy of row 0, so both have neighbours 0, 300.
	got, _ := searchPinned(cpu(), xd, 2, false)
	if got[0] != 0 || got[1] != 300 || got[600] != 0 || got[601] != 300 {
		t.Errorf("duplicate rows 0/300: lists %v and %v, want [0 300] for both", got[0:2], got[600:602])
	}
}

func score64(m metrics.Matrix, i, j int, ip bool) float64 {
	var s float64
	for c := 0; c < m.Cols; c++ {
		a, b := float64(m.Row(i)[c]), float64(m.Row(j)[c])
		if ip {
			s += a * b
		} else {
			s += (a - b) * (a - b)
		}
	}
	return s
}

func firstDiff(a, b []int32) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

func TestTorchKMeansMatchesFaiss(t *testing.T) {
	for _, c := range loadRef(t).KMeans[:2] { // the tie-free cases (see gen_reference.py)
		x := metrics.Matrix{Data: c.X, Rows: c.N, Cols: c.D}
		res, err := kmeansPinned(x, c.K, metrics.KMeansOptions{Iters: c.Iters}, cpu())
		if err != nil {
			t.Fatal(err)
		}
		if d := firstDiff(res.Labels, c.Labels); d >= 0 {
			t.Errorf("%s: point %d assigned %d, faiss %d", c.Name, d, res.Labels[d], c.Labels[d])
		}
		for i := range c.Centroids {
			if math.Abs(float64(res.Centroids.Data[i]-c.Centroids[i])) > 1e-6 {
				t.Fatalf("%s: centroid value %d: %g, faiss %g", c.Name, i, res.Centroids.Data[i], c.Centroids[i])
			}
		}
	}
}

// writeEmbed makes an embed artifact directory like stages/train's embed stage does.
func writeEmbed(t *testing.T, dir string, x metrics.Matrix, labels []int64, info map[string]any, log string) {
	t.Helper()
	e, err := safetensors.F32("embeds", x.Data, int64(x.Rows), int64(x.Cols))
	if err != nil {
		t.Fatal(err)
	}
	l, err := safetensors.I64("labels", labels, int64(len(labels)))
	if err != nil {
		t.Fatal(err)
	}
	if err := safetensors.Write(filepath.Join(dir, embed.EmbeddingsFile), []safetensors.Tensor{e, l}, nil); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(info)
	if err := os.WriteFile(filepath.Join(dir, embed.InfoFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if log != "" {
		if err := os.WriteFile(filepath.Join(dir, embed.TrainLogFile), []byte(log), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestStageEndToEnd(t *testing.T) {
	r := loadRef(t)
	in, out := t.TempDir(), t.TempDir()
	x := metrics.Matrix{Data: r.Embedding.X, Rows: r.Embedding.N, Cols: r.Embedding.D}
	writeEmbed(t, in, x, r.Embedding.Labels, map[string]any{"split": "test", "n": x.Rows, "dim": x.Cols,
		"model_block": "nir", "model_addr": "train.nir[seed=3]", "seed": 3, "train_classes": 26},
		"epoch,loss,skipped,lr_net,seconds,test_recall@1\n0,1.5,0,1e-05,2.0,0.41\n1,1.25,1,1e-05,2.1,\n")
	names := []string{"e_recall@1", "e_recall@4", "c_mAP_1000", "mAP_1000", "nmi", "f1"}
	ctx := &stage.Context{
		Context: context.Background(), Addr: "evaluate.test[from=embed.test[models=train.nir[seed=3]]]",
		Params: stage.Params{"metrics": names, "kmeans_classes": int64(0), "faiss_rand_int": "modulo", "faiss_padding": false},
		Inputs: []stage.Input{{Param: "from", Addr: "embed.test[models=train.nir[seed=3]]", Block: "test", Stage: "embed", Dir: in}},
		OutDir: out, Log: io.Discard, Device: "cpu", Threads: 2,
	}
	if err := Def().Run(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := metrics.ReadResult(out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Run.Block != "nir" || res.Run.Seed != 3 || res.Run.Addr != "train.nir[seed=3]" || res.KMeansClasses != 26 {
		t.Errorf("run info %+v, kmeans_classes %d", res.Run, res.KMeansClasses)
	}
	for _, n := range names[:4] {
		if got, want := float64(res.Metrics[n]), r.Embedding.Expected[n]; math.Abs(got-want) > 1e-12 {
			t.Errorf("%s = %v, reference %v", n, got, want)
		}
	}
	for _, n := range []string{"nmi", "f1"} {
		if v := float64(res.Metrics[n]); !(v > 0 && v <= 1) {
			t.Errorf("%s = %v", n, v)
		}
	}
	tl := res.TrainLog
	if tl == nil || len(tl.Rows) != 2 || tl.Col("test_recall@1") != 5 || !math.IsNaN(float64(tl.Rows[1][5])) || tl.Rows[1][1] != 1.25 {
		t.Errorf("train log %+v", tl)
	}
}

func TestStageErrors(t *testing.T) {
	in := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	x := metrics.Matrix{Data: make([]float32, 20*4), Rows: 20, Cols: 4}
	for i := range x.Data {
		x.Data[i] = float32(rng.NormFloat64())
	}
	labels := make([]int64, 20)
	writeEmbed(t, in, x, labels, map[string]any{"split": "test", "n": 20, "dim": 4, "model_block": "b", "seed": 0}, "")
	cases := []struct {
		metrics []string
		want    string
	}{
		{[]string{"e_recall@1", "bogus"}, `metrics[1]: Unknown metric: "bogus" is not a metric`},
		{[]string{"nmi"}, "number of k-means clusters"},
	}
	for _, c := range cases {
		ctx := &stage.Context{Context: context.Background(), Addr: "evaluate.x",
			Params: stage.Params{"metrics": c.metrics, "kmeans_classes": int64(0), "faiss_rand_int": "modulo", "faiss_padding": false},
			Inputs: []stage.Input{{Param: "from", Addr: "embed.x", Dir: in}}, OutDir: t.TempDir(), Log: io.Discard, Device: "cpu"}
		err := Def().Run(ctx)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "evaluate.x") {
			t.Errorf("%v: error %v, want one naming the node and %q", c.metrics, err, c.want)
		}
	}
}

// TestSchemaUnchanged pins the evaluate block's parameters as they were declared by hand
// before the typed config, plus faiss_padding (issue 13), the optional dataset reference
// and the retrieval picture's parameters (issue 16): the canonical parameter map, and so
// every key, depends on them.
func TestSchemaUnchanged(t *testing.T) {
	type p struct {
		name     string
		typ      stage.Type
		def      any
		required bool
		enum     []string
	}
	want := []p{
		{"from", stage.RefList, nil, true, nil},
		{"dataset", stage.Ref, nil, false, nil},
		{"metrics", stage.StringList, []string{"e_recall@1", "e_recall@2", "e_recall@4", "e_recall@10", "nmi", "f1", "mAP_1000"}, false, nil},
		{"kmeans_classes", stage.Int, int64(0), false, nil},
		{"faiss_rand_int", stage.String, "modulo", false, []string{"modulo", "mulshift"}},
		{"faiss_padding", stage.Bool, false, false, nil},
		{"retrieval_queries", stage.Int, int64(8), false, nil},
		{"retrieval_k", stage.Int, int64(5), false, nil},
		{"retrieval_seed", stage.Int, int64(0), false, nil},
	}
	d := Def()
	if len(d.Params) != len(want) || d.ExpandOver != "from" || !d.Exclusive || d.Version != 3 {
		t.Fatalf("def %+v", d)
	}
	for i, w := range want {
		g := d.Params[i]
		if g.Name != w.name || g.Type != w.typ || !reflect.DeepEqual(g.Default, w.def) || g.Required != w.required || !slices.Equal(g.Enum, w.enum) || g.Doc == "" {
			t.Errorf("parameter %d = %+v, want %+v", i, g, w)
		}
	}
	if doc := d.Params[2].Doc; doc != "Metric names: "+metrics.Summary()+"." {
		t.Errorf("metrics doc %q", doc)
	}
}

func TestDecodeProblems(t *testing.T) {
	type prob struct{ path, summary, detail string }
	cases := []struct {
		name string
		set  stage.Params
		want []prob
	}{
		{"defaults", nil, nil},
		{"every family", stage.Params{"metrics": []string{"c_recall@3", "c_mAP_1000", "mAP@R", "dists@inter", "rho_spectrum@-2@embeds"}}, nil},
		{"misspelt", stage.Params{"metrics": []string{"e_recall@1", "recal@1"}},
			[]prob{{"metrics[1]", "Unknown metric", `"recal@1" is not a metric; the metrics are e_recall@K, c_recall@K,`}}},
		{"suggestion", stage.Params{"metrics": []string{"recal@1", "map_1000", "NMI", "rho@2"}},
			[]prob{{"metrics[0]", "Unknown metric", `Did you mean "e_recall@1"?`}, {"metrics[1]", "Unknown metric", `Did you mean "mAP_1000"?`},
				{"metrics[2]", "Unknown metric", `Did you mean "nmi"?`}, {"metrics[3]", "Unknown metric", ""}}},
		{"bad parameter", stage.Params{"metrics": []string{"e_recall@0", "rho_spectrum@0", "dists@outer"}},
			[]prob{{"metrics[0]", "Invalid metric", "K must be a whole number of at least 1"}, {"metrics[1]", "Invalid metric", "M must be a non-zero integer"},
				{"metrics[2]", "Invalid metric", "the dists metrics are"}}},
		{"duplicate", stage.Params{"metrics": []string{"nmi", "f1", "nmi"}}, []prob{{"metrics[2]", "Duplicate metric", "already requested at metrics[0]"}}},
		{"negative kmeans_classes", stage.Params{"kmeans_classes": int64(-1)}, []prob{{"kmeans_classes", "Value out of range", "at least 0"}}},
		{"rand_int", stage.Params{"faiss_rand_int": "mulshft"}, []prob{{"faiss_rand_int", `Invalid value`, `Did you mean "mulshift"?`}}},
	}
	d := Def()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := stage.Params{"metrics": slices.Clone(metrics.Default), "kmeans_classes": int64(0), "faiss_rand_int": "modulo", "faiss_padding": false}
			for k, v := range c.set {
				p[k] = v
			}
			cfg, probs := d.Decode(p)
			if len(probs) != len(c.want) {
				t.Fatalf("problems %v, want %d", probs, len(c.want))
			}
			for i, w := range c.want {
				if g := probs[i]; g.Path != w.path || g.Summary != w.summary || !strings.Contains(g.Detail, w.detail) {
					t.Errorf("problem %d = %+v, want %+v", i, g, w)
				}
			}
			if c.want == nil {
				if c, ok := cfg.(*Config); !ok || len(c.Metrics) == 0 {
					t.Errorf("config %+v", cfg)
				}
			}
		})
	}
}

var updateReadme = flag.Bool("update-readme", false, "rewrite README.md's generated metric table")

// TestReadmeMetricTable: README.md's metric table is generated from the metric table.
func TestReadmeMetricTable(t *testing.T) {
	var b strings.Builder
	b.WriteString("| names | meaning |\n|---|---|\n")
	for _, m := range metrics.Metrics() {
		q := make([]string, len(m.Names))
		for i, n := range m.Names {
			q[i] = "`" + n + "`"
		}
		fmt.Fprintf(&b, "| %s | %s |\n", strings.Join(q, ", "), strings.ReplaceAll(m.Doc, "|", "\\|"))
	}
	const begin, end = "<!-- metrics:begin -->\n", "<!-- metrics:end -->"
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	i, j := strings.Index(readme, begin), strings.Index(readme, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q ... %q markers", begin, end)
	}
	if want := b.String(); readme[i+len(begin):j] != want {
		if !*updateReadme {
			t.Fatalf("README.md's metric table is stale; run: go test ./stages/evaluate -run TestReadmeMetricTable -update-readme")
		}
		if err := os.WriteFile("README.md", []byte(readme[:i+len(begin)]+want+readme[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// runStage runs the evaluate stage on an embed artifact written by writeEmbed.
func runStage(t *testing.T, in string, params stage.Params) (string, error) {
	t.Helper()
	p := stage.Params{"metrics": []string{"e_recall@1"}, "kmeans_classes": int64(0), "faiss_rand_int": "modulo", "faiss_padding": false}
	for k, v := range params {
		p[k] = v
	}
	out := t.TempDir()
	ctx := &stage.Context{Context: context.Background(), Addr: "evaluate.x[embed.x[train.b[seed=0]]]", Params: p,
		Inputs: []stage.Input{{Param: "from", Addr: "embed.x[train.b[seed=0]]", Dir: in}}, OutDir: out, Log: io.Discard, Device: "cpu"}
	return out, Def().Run(ctx)
}

// Embeddings with NaN or Inf fail the node with where and how many, and no metrics.json is
// written (an all-NaN set used to give e_recall@1 0.2, nmi 0).
func TestStageRefusesNonFiniteEmbeddings(t *testing.T) {
	cases := []struct {
		name string
		bad  []int // rows made NaN
		want string
	}{
		{"all NaN", []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, "10 of 10 embeddings have a non-finite value (the first: row 0, NaN)"},
		{"two rows", []int{7, 4}, "2 of 10 embeddings have a non-finite value (the first: row 4, NaN)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := t.TempDir()
			x := metrics.Matrix{Data: make([]float32, 10*3), Rows: 10, Cols: 3}
			for i := range x.Data {
				x.Data[i] = float32(i%7) / 7
			}
			for _, r := range c.bad {
				x.Data[r*3+1] = float32(math.NaN())
			}
			writeEmbed(t, in, x, []int64{0, 0, 1, 1, 2, 2, 3, 3, 4, 4}, map[string]any{"split": "test", "n": 10, "dim": 3,
				"model_block": "b", "model_addr": "train.b[seed=0]", "train_classes": 5}, "")
			out, err := runStage(t, in, stage.Params{"metrics": []string{"e_recall@1", "nmi"}})
			if err == nil {
				t.Fatal("non-finite embeddings were evaluated")
			}
			for _, s := range []string{"evaluate.x[embed.x[train.b[seed=0]]]", "input embed.x[train.b[seed=0]] (test split of train.b[seed=0])", c.want} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			if _, err := os.Stat(filepath.Join(out, metrics.ResultFile)); err == nil {
				t.Error("metrics.json written")
			}
		})
	}
}

// metrics.json carries how the model trained when embed.json records it, and nothing
// (not an "untrained" zero) when embed.json predates those fields.
func TestStageRecordsTraining(t *testing.T) {
	x := metrics.Matrix{Data: []float32{0, 1, 10, 11}, Rows: 4, Cols: 1}
	base := map[string]any{"split": "test", "n": 4, "dim": 1, "model_block": "b", "model_addr": "train.b[seed=0]"}
	cases := []struct {
		name  string
		train map[string]any
		want  *metrics.Training
	}{
		{"embed.json without training fields", nil, nil},
		{"untrained", map[string]any{"train_epochs": 0, "train_steps": 0, "train_skipped": 0, "selected_epoch": -1},
			&metrics.Training{SelectedEpoch: -1}},
		{"skipped, selected on test", map[string]any{"train_epochs": 30, "train_steps": 1190, "train_skipped": 10,
			"selected_epoch": 12, "selection": "test:e_recall@1"},
			&metrics.Training{Epochs: 30, Steps: 1190, Skipped: 10, SelectedEpoch: 12, Selection: "test:e_recall@1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			info := map[string]any{}
			for k, v := range base {
				info[k] = v
			}
			for k, v := range c.train {
				info[k] = v
			}
			in := t.TempDir()
			writeEmbed(t, in, x, []int64{0, 0, 1, 1}, info, "")
			out, err := runStage(t, in, nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := metrics.ReadResult(out)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(res.Run.Train, c.want) {
				t.Errorf("run.train %+v, want %+v", res.Run.Train, c.want)
			}
		})
	}
}

// faiss_padding reaches the metrics: the hand-computed set of metrics.TestMAPFaissPadding.
func TestStageFaissPadding(t *testing.T) {
	in := t.TempDir()
	writeEmbed(t, in, metrics.Matrix{Data: []float32{0, 1, 10, 11}, Rows: 4, Cols: 1}, []int64{0, 0, 1, 1},
		map[string]any{"split": "test", "n": 4, "dim": 1, "model_block": "b", "model_addr": "train.b[seed=0]"}, "")
	for pad, want := range map[bool]float64{false: 0.5, true: 0.775} {
		out, err := runStage(t, in, stage.Params{"metrics": []string{"mAP_5"}, "faiss_padding": pad})
		if err != nil {
			t.Fatal(err)
		}
		res, err := metrics.ReadResult(out)
		if err != nil {
			t.Fatal(err)
		}
		if got := float64(res.Metrics["mAP_5"]); math.Abs(got-want) > 1e-12 {
			t.Errorf("faiss_padding = %v: mAP_5 %v, want %v", pad, got, want)
		}
	}
}
