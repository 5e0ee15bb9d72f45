package metrics

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"dmlrun/safetensors"
)

func randomSet(n, d int, classes int64, seed uint64) (Matrix, []int64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	x := Matrix{Data: make([]float32, n*d), Rows: n, Cols: d}
	for i := range x.Data {
		x.Data[i] = float32(rng.NormFloat64())
	}
	labels := make([]int64, n)
	for i := range labels {
		labels[i] = int64(i) % classes
	}
	return x, labels
}

// Asking for neighbours changes no metric value, and the neighbours are the search's
// lists after the drop-first rule: whether the metrics need fewer (e_recall@1), more
// (mAP@R, e_recall@10) or none of the L2 lists (nmi, c_recall@1); with duplicate rows
// too.
func TestComputeAllNeighbours(t *testing.T) {
	x, labels := randomSet(60, 8, 6, 1)
	dup := Matrix{Data: append(slices.Clone(x.Data), x.Data[:3*x.Cols]...), Rows: 63, Cols: x.Cols}
	dupLabels := append(slices.Clone(labels), labels[:3]...)
	for _, set := range []struct {
		name   string
		x      Matrix
		labels []int64
	}{{"distinct rows", x, labels}, {"duplicate rows", dup, dupLabels}} {
		for _, names := range [][]string{{"e_recall@1"}, {"e_recall@1", "mAP@R", "e_recall@10"}, {"nmi", "c_recall@1"}, {"mAP_1000"}} {
			t.Run(set.name+" "+strings.Join(names, ","), func(t *testing.T) {
				opt := Options{KMeansK: 6}
				want, err := Compute(set.x, set.labels, names, opt)
				if err != nil {
					t.Fatal(err)
				}
				opt.Neighbours = 5
				got, err := ComputeAll(set.x, set.labels, names, opt)
				if err != nil {
					t.Fatal(err)
				}
				for n, v := range want {
					if got.Values[n] != v {
						t.Errorf("%s = %v with neighbours asked for, %v without", n, got.Values[n], v)
					}
				}
				idx, err := SearchSelf(GoBackend{}, set.x, 6, false)
				if err != nil {
					t.Fatal(err)
				}
				if nn := DropFirst(idx, set.x.Rows, 6); got.L2.K != 5 || !slices.Equal(got.L2.Idx, nn.Idx) {
					t.Errorf("neighbours K=%d differ from the search's lists", got.L2.K)
				}
			})
		}
	}
	// a set smaller than the neighbours asked for: every other row, best first
	small, sl := randomSet(4, 3, 2, 2)
	got, err := ComputeAll(small, sl, []string{"e_recall@1"}, Options{Neighbours: 5})
	if err != nil {
		t.Fatal(err)
	}
	if got.L2.K != 3 || len(got.L2.Idx) != 12 {
		t.Errorf("4 rows: K = %d, %d indices; want 3 neighbours each", got.L2.K, len(got.L2.Idx))
	}
	if none, _ := ComputeAll(small, sl, []string{"e_recall@1"}, Options{}); none.L2.K != 0 {
		t.Errorf("no neighbours asked for, got K = %d", none.L2.K)
	}
}

func TestNeighboursFile(t *testing.T) {
	dir := t.TempDir()
	q := QueryNeighbours{Neighbours: Neighbours{Idx: []int32{1, 2, 2, 0, 3, 1, 0, 2}, K: 2}, Labels: []int64{0, 0, 1, 1}}
	if err := WriteNeighbours(dir, q); err != nil {
		t.Fatal(err)
	}
	got, err := ReadNeighbours(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.K != 2 || !slices.Equal(got.Idx, q.Idx) || !slices.Equal(got.Labels, q.Labels) {
		t.Errorf("read back %+v", got)
	}
	var hits []bool
	for i := range got.Len() {
		hits = append(hits, got.Hit(i))
	}
	if want := []bool{true, false, true, false}; !slices.Equal(hits, want) {
		t.Errorf("hits %v, want %v", hits, want)
	}
	if err := WriteNeighbours(dir, QueryNeighbours{Neighbours: Neighbours{Idx: []int32{1}, K: 2}, Labels: []int64{0, 0}}); err == nil {
		t.Error("a short list was written")
	}
	// an index outside the set is refused when read
	bad := safetensors.Tensor{Name: "neighbours", DType: "I32", Shape: []int64{2, 1}, Data: safetensors.Int32Bytes([]int32{1, 5})}
	lab, _ := safetensors.I64("labels", []int64{0, 1}, 2)
	if err := safetensors.Write(filepath.Join(dir, NeighboursFile), []safetensors.Tensor{bad, lab}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadNeighbours(dir); err == nil || !strings.Contains(err.Error(), "index 5 outside 0..1") {
		t.Errorf("error %v", err)
	}
	os.Remove(filepath.Join(dir, NeighboursFile))
	if _, err := ReadNeighbours(dir); !os.IsNotExist(err) && !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}
