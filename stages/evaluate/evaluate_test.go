package evaluate

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"dmlrun/safetensors"
	"dmlrun/stage"
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
					got, err := metrics.SearchSelf(b, m, k, ip)
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
	got, _ := metrics.SearchSelf(cpu(), xd, 2, false)
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
		res, err := metrics.KMeans(x, c.K, metrics.KMeansOptions{Iters: c.Iters}, cpu())
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
	if err := safetensors.Write(filepath.Join(dir, EmbeddingsFile), []safetensors.Tensor{e, l}, nil); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(info)
	if err := os.WriteFile(filepath.Join(dir, EmbedInfoFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if log != "" {
		if err := os.WriteFile(filepath.Join(dir, TrainLogFile), []byte(log), 0o644); err != nil {
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
		Params: stage.Params{"metrics": names, "kmeans_classes": int64(0), "faiss_rand_int": "modulo"},
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
		{[]string{"e_recall@1", "bogus"}, `unknown metric "bogus"`},
		{[]string{"nmi"}, "number of k-means clusters"},
	}
	for _, c := range cases {
		ctx := &stage.Context{Context: context.Background(), Addr: "evaluate.x",
			Params: stage.Params{"metrics": c.metrics, "kmeans_classes": int64(0), "faiss_rand_int": "modulo"},
			Inputs: []stage.Input{{Param: "from", Addr: "embed.x", Dir: in}}, OutDir: t.TempDir(), Log: io.Discard, Device: "cpu"}
		err := Def().Run(ctx)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "evaluate.x") {
			t.Errorf("%v: error %v, want one naming the node and %q", c.metrics, err, c.want)
		}
	}
}

func TestStableOrder(t *testing.T) {
	v := []float32{1, 2, 2, 2, 3, 3}
	idx := []int64{9, 7, 3, 5, 2, 1}
	dst := make([]int32, 5)
	stableOrder(v, idx, dst)
	if want := []int32{9, 3, 5, 7, 1}; !slices.Equal(dst, want) {
		t.Errorf("got %v, want %v", dst, want)
	}
	// unsorted input is sorted by value first
	stableOrder([]float32{3, 1, 2, 1}, []int64{0, 8, 5, 4}, dst[:4])
	if want := []int32{4, 8, 5, 0}; !slices.Equal(dst[:4], want) {
		t.Errorf("got %v, want %v", dst[:4], want)
	}
}
