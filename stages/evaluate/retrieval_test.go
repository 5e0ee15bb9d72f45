package evaluate

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"dmlrun/stage"
	"dmlrun/stages/evaluate/evaltest"
	"dmlrun/stages/evaluate/gallery"
	"dmlrun/stages/evaluate/metrics"
	"dmlrun/stages/load"
)

// retrievalCase: ten images of five classes on a line, so every query's neighbours are
// known by hand; query 8 (class 4) is nearer to class 3 than to its own twin (a miss at
// rank 1), query 9 is nearest to query 8 (a hit).
var (
	rcX       = []float32{0, 0.1, 1, 1.1, 2, 2.15, 3, 3.05, 3.6, 4.4}
	rcLabels  = []int64{0, 0, 1, 1, 2, 2, 3, 3, 4, 4}
	rcClasses = []string{"zero", "one", "two", "three", "four"}
)

// bruteNeighbours ranks the other images by distance on the line (no ties in rcX).
func bruteNeighbours(q, k int) []int {
	var idx []int
	for j := range rcX {
		if j != q {
			idx = append(idx, j)
		}
	}
	sort.Slice(idx, func(a, b int) bool {
		return math.Abs(float64(rcX[idx[a]]-rcX[q])) < math.Abs(float64(rcX[idx[b]]-rcX[q]))
	})
	return idx[:k]
}

// retrievalStage runs the stage on the case with a dataset input whose key is dataKey,
// while the embed input's lineage says it read embedKey.
func retrievalStage(t *testing.T, params stage.Params, dataKey, embedKey string, dataset bool, dataLabels ...int64) (string, string, error) {
	t.Helper()
	in, ddir, out := t.TempDir(), t.TempDir(), t.TempDir()
	x := metrics.Matrix{Data: make([]float32, 2*len(rcX)), Rows: len(rcX), Cols: 2}
	for i, v := range rcX {
		x.Data[2*i] = v
	}
	writeEmbed(t, in, x, rcLabels, map[string]any{"split": "test", "n": x.Rows, "dim": 2, "model_block": "nir",
		"model_addr": "train.old_name[seed=0]", "seed": 0}, "")
	if dataLabels == nil {
		dataLabels = rcLabels
	}
	evaltest.WriteDataset(t, ddir, "test", rcClasses, dataLabels)
	p := stage.Params{"metrics": []string{"e_recall@1"}}
	for k, v := range params {
		p[k] = v
	}
	embedIn := stage.Input{Param: "from", Addr: "embed.test[train.nir[seed=0]]", Block: "test", Stage: "embed", Dir: in,
		Ancestors: []stage.Input{
			{Stage: "dataset", Block: "toy", Addr: "dataset.toy", Key: embedKey},
			{Stage: "train", Block: "nir", Addr: "train.nir[seed=0]", Key: "trainkey"},
		}}
	inputs := []stage.Input{embedIn}
	if dataset {
		inputs = append(inputs, stage.Input{Param: "dataset", Stage: "dataset", Block: "toy", Addr: "dataset.toy", Key: dataKey, Dir: ddir})
	}
	var log strings.Builder
	ctx := &stage.Context{Context: context.Background(), Addr: "evaluate.test[embed.test[train.nir[seed=0]]]", Params: p,
		Inputs: inputs, OutDir: out, Log: &log, Device: "cpu"}
	err := Def().Run(ctx)
	return out, log.String(), err
}

func pixel(img image.Image, p image.Point) color.RGBA {
	r, g, b, a := img.At(p.X, p.Y).RGBA()
	return color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), uint8(a >> 8)}
}

// The retrieval picture shows, for the recorded seeded sample of queries, the query's
// image and its nearest neighbours' images in rank order, bordered green for the query's
// class and red for another; neighbours.safetensors holds the same lists.
func TestStageRetrievalPicture(t *testing.T) {
	const k = 3
	out, log, err := retrievalStage(t, stage.Params{"retrieval_queries": int64(10), "retrieval_k": int64(k), "retrieval_seed": int64(4)}, "dkey", "dkey", true)
	if err != nil {
		t.Fatal(err)
	}
	res, err := metrics.ReadResult(out)
	if err != nil {
		t.Fatal(err)
	}
	want := SampleQueries(len(rcX), 10, 4)
	if r := res.Retrieval; r == nil || r.Picture != PictureFile || r.Seed != 4 || r.K != k || r.Dataset != "dataset.toy" || !slices.Equal(r.Queries, want) {
		t.Fatalf("retrieval record %+v, want queries %v", res.Retrieval, want)
	}
	if !strings.Contains(log, "retrieval.png: 10 queries (seed 4)") {
		t.Errorf("log:\n%s", log)
	}
	nb, err := metrics.ReadNeighbours(out)
	if err != nil {
		t.Fatal(err)
	}
	for q := range rcX {
		got := nb.Row(q)
		for r, j := range bruteNeighbours(q, k) {
			if int(got[r]) != j {
				t.Fatalf("query %d neighbours %v, want %v", q, got, bruteNeighbours(q, k))
			}
		}
	}
	// The layout of the same sheet tells where each tile is; the file's pixels must show
	// the expected image (its solid colour) inside the expected border.
	f, err := os.ReadFile(filepath.Join(out, PictureFile))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	ddir := t.TempDir()
	evaltest.WriteDataset(t, ddir, "test", rcClasses, rcLabels)
	pd, err := load.Open(ddir)
	if err != nil {
		t.Fatal(err)
	}
	defer pd.Close()
	s, _ := pd.Split("test")
	ref, lay := RetrievalSheet(s, nb, want, "train.nir[seed=0]", 4).Draw()
	if ref.Bounds() != img.Bounds() {
		t.Fatalf("picture %v, layout drawn %v", img.Bounds(), ref.Bounds())
	}
	hits := 0
	for row, q := range want {
		tiles := lay.Tiles[0][row]
		if len(tiles) != 1+k {
			t.Fatalf("row %d has %d tiles", row, len(tiles))
		}
		shows := append([]int{q}, bruteNeighbours(q, k)...)
		for ti, j := range shows {
			r := tiles[ti]
			border := gallery.QueryColour
			if ti > 0 {
				border = gallery.MissColour
				if rcLabels[j] == rcLabels[q] {
					border = gallery.HitColour
					if ti == 1 {
						hits++
					}
				}
			}
			if got := pixel(img, r.Min.Add(image.Pt(1, 1))); got != border {
				t.Errorf("query %d tile %d (image %d): border %v, want %v", q, ti, j, got, border)
			}
			if got := pixel(img, image.Pt((r.Min.X+r.Max.X)/2, (r.Min.Y+r.Max.Y)/2)); got != evaltest.Colour(j) {
				t.Errorf("query %d tile %d: centre %v, want image %d's colour %v", q, ti, got, j, evaltest.Colour(j))
			}
		}
	}
	if hits == 0 || hits == len(want) {
		t.Errorf("%d of %d sampled queries right at rank 1: the case should show both kinds", hits, len(want))
	}
}

// Without a dataset, or with none asked for, no picture; a dataset that is not the one
// embedded, or whose split does not match, is an error naming both.
func TestStageRetrievalPictureRefusals(t *testing.T) {
	out, log, err := retrievalStage(t, nil, "dkey", "dkey", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, PictureFile)); err == nil || !strings.Contains(log, "no retrieval.png: set dataset = dataset.<name>") {
		t.Errorf("picture without a dataset (stat %v), log:\n%s", err, log)
	}
	if _, err := os.Stat(filepath.Join(out, metrics.NeighboursFile)); err != nil {
		t.Errorf("neighbours.safetensors is written without a dataset too: %v", err)
	}
	out, _, err = retrievalStage(t, stage.Params{"retrieval_queries": int64(0)}, "dkey", "dkey", true)
	if res, _ := metrics.ReadResult(out); err != nil || res.Retrieval != nil {
		t.Errorf("retrieval_queries = 0: %v, record %+v", err, res)
	}
	if _, _, err := retrievalStage(t, nil, "other", "dkey", true); err == nil || !strings.Contains(err.Error(), "is not the dataset embed.test[train.nir[seed=0]] embedded") {
		t.Errorf("another dataset: %v", err)
	}
	out, _, err = retrievalStage(t, nil, "dkey", "dkey", true, 0, 0, 1, 1, 2, 2, 3, 3, 4)
	if err == nil || !strings.Contains(err.Error(), "dataset dataset.toy: its test split (9 images) is not what embed.test[train.nir[seed=0]] embedded (10 rows") {
		t.Errorf("a split of other images: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, metrics.ResultFile)); err == nil {
		t.Error("metrics.json written by a node that failed")
	}
}

// The sample is a fixed function of (total, n, seed): pinned, so a picture's queries do
// not move between releases.
func TestSampleQueries(t *testing.T) {
	got := SampleQueries(1000, 8, 7)
	if want := []int{161, 677, 966, 424, 833, 331, 15, 932}; !slices.Equal(got, want) {
		t.Errorf("SampleQueries(1000, 8, 7) = %v, pinned %v", got, want)
	}
	seen := map[int]bool{}
	for _, q := range got {
		if q < 0 || q >= 1000 || seen[q] {
			t.Fatalf("sample %v: out of range or repeated", got)
		}
		seen[q] = true
	}
	if all := SampleQueries(4, 10, 1); len(all) != 4 {
		t.Errorf("n > total: %v", all)
	}
	if slices.Equal(SampleQueries(1000, 8, 7), SampleQueries(1000, 8, 8)) {
		t.Error("two seeds give one sample")
	}
}
