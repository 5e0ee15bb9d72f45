package metrics

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
)

// Embeddings with NaN or Inf are refused with the number of bad rows and the first one,
// instead of being ranked and clustered into numbers such as e_recall@1 0.2, nmi 0.
func TestComputeRefusesNonFinite(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	cases := []struct {
		name        string
		bad         map[int]float32 // value index -> value
		rows, first int
	}{
		{"one NaN", map[int]float32{7: nan}, 1, 3},
		{"Inf and NaN", map[int]float32{3: inf, 10: nan, 11: nan}, 2, 1},
		{"-Inf in the first row", map[int]float32{0: float32(math.Inf(-1))}, 1, 0},
		{"every row", func() map[int]float32 {
			m := map[int]float32{}
			for i := range 12 {
				m[i] = nan
			}
			return m
		}(), 6, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := Matrix{Data: []float32{0, 1, 1, 0, 2, 2, 3, 1, 0, 4, 5, 5}, Rows: 6, Cols: 2}
			for i, v := range c.bad {
				x.Data[i] = v
			}
			_, err := Compute(x, []int64{0, 0, 1, 1, 2, 2}, []string{"e_recall@1", "nmi"}, Options{KMeansK: 3})
			var ne *NonFiniteError
			if !errors.As(err, &ne) || ne.Rows != c.rows || ne.First != c.first || ne.Total != 6 {
				t.Fatalf("error %v (%+v), want a NonFiniteError with %d bad rows, the first %d", err, ne, c.rows, c.first)
			}
			for _, s := range []string{"of 6 embeddings", "row " + strconv.Itoa(c.first)} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
		})
	}
}

// The original asks faiss for K+1 neighbours also when the set has fewer rows; faiss pads
// the list with index -1, which numpy reads as the last row's label. Four points on a line,
// x = 0, 1, 10, 11 with labels 0, 0, 1, 1, and mAP_5 (K = 5 > N − 1 = 3):
//
//	query 0: neighbours 1, 2, 3 -> labels 0, 1, 1; padding 1, 1. AP = (1/1) / 2 = 0.5 either way.
//	query 1: neighbours 0, 2, 3 -> the same, 0.5.
//	query 2: neighbours 3, 1, 0 -> labels 1, 0, 0. Cut: (1/1) / 2 = 0.5. Padded (labels
//	         1, 0, 0, 1, 1): hits at ranks 1, 4, 5: (1/1 + 2/4 + 3/5) / 2 = 1.05.
//	query 3: neighbours 2, 1, 0 -> the same as query 2.
//
// Cut (dmlrun): 0.5; padded (the original): (0.5 + 0.5 + 1.05 + 1.05) / 4 = 0.775. Recall@1
// needs no padding and is the same both ways (1.0); e_recall@5 counts the padding as a
// hit only where it is one anyway here.
func TestMAPFaissPadding(t *testing.T) {
	x := Matrix{Data: []float32{0, 1, 10, 11}, Rows: 4, Cols: 1}
	y := []int64{0, 0, 1, 1}
	cases := []struct {
		pad  bool
		want map[string]float64
	}{
		{false, map[string]float64{"mAP_5": 0.5, "e_recall@1": 1, "mAP_3": 0.5}},
		{true, map[string]float64{"mAP_5": 0.775, "e_recall@1": 1, "mAP_3": 0.5}},
	}
	for _, c := range cases {
		got, err := Compute(x, y, []string{"e_recall@1", "mAP_3", "mAP_5"}, Options{FaissPadding: c.pad})
		if err != nil {
			t.Fatal(err)
		}
		for n, w := range c.want {
			if !close(got[n], w, 1e-15) {
				t.Errorf("padding %v: %s = %v, want %v", c.pad, n, got[n], w)
			}
		}
	}
	// A set with more rows than K + 1 is never padded: both rules agree.
	big := Matrix{Data: []float32{0, 1, 10, 11, 20, 21, 30, 31}, Rows: 8, Cols: 1}
	by := []int64{0, 0, 1, 1, 2, 2, 3, 3}
	a, _ := Compute(big, by, []string{"mAP_5", "c_mAP_5"}, Options{})
	b, _ := Compute(big, by, []string{"mAP_5", "c_mAP_5"}, Options{FaissPadding: true})
	if a["mAP_5"] != b["mAP_5"] || a["c_mAP_5"] != b["c_mAP_5"] {
		t.Errorf("padding changed a set with enough rows: %v vs %v", a, b)
	}
}
