package metrics

import (
	"math"
	"strings"
	"testing"
)

// Four points on a line, x = 0, 0, 1, 3 with labels a, b, a, b (a=0, b=1). Points 0 and 1 are
// exact duplicates, so query 1's first neighbour is point 0 (equal distance, lower index):
// it is dropped as "self" and query 1 keeps itself as its nearest neighbour, a hit.
func tieSet() (Matrix, []int64) {
	return Matrix{Data: []float32{0, 0, 1, 3}, Rows: 4, Cols: 1}, []int64{0, 1, 0, 1}
}

func TestDropFirstTieRule(t *testing.T) {
	x, _ := tieSet()
	idx, err := GoBackend{}.Search(x, 4, false)
	if err != nil {
		t.Fatal(err)
	}
	nn := DropFirst(idx, 4, 4)
	want := [][]int32{{1, 2, 3}, {1, 2, 3}, {0, 1, 3}, {2, 0, 1}}
	for i, w := range want {
		got := nn.Idx[i*3 : i*3+3]
		for r := range w {
			if got[r] != w[r] {
				t.Errorf("query %d neighbours %v, want %v", i, got, w)
				break
			}
		}
	}
}

func TestRetrievalHandComputed(t *testing.T) {
	x, y := tieSet()
	got, err := Compute(x, y, []string{"e_recall@1", "e_recall@2", "mAP_1000", "mAP@R"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// recall@1: q0 miss (nn 1 is b), q1 hit (itself), q2 hit (0), q3 miss (2 is a).
	// mAP_1000 (k clipped to 3): APs 1/4, (1 + 2/3)/2, 1/2, (1/3)/2 -> mean 0.4375.
	// MAP@R (R = 1): 0, 1, 1, 0.
	want := map[string]float64{"e_recall@1": 0.5, "e_recall@2": 0.75, "mAP_1000": 0.4375, "mAP@R": 0.5}
	for n, w := range want {
		if !close(got[n], w, 1e-15) {
			t.Errorf("%s = %v, want %v", n, got[n], w)
		}
	}
}

func TestCosineSearch(t *testing.T) {
	// Directions: 0° (len 5), 10°, 90°, 180°; cosine ignores length.
	d := func(deg, r float64) []float32 {
		a := deg * math.Pi / 180
		return []float32{float32(r * math.Cos(a)), float32(r * math.Sin(a))}
	}
	var data []float32
	for _, p := range [][]float32{d(0, 5), d(10, 1), d(90, 2), d(180, 1)} {
		data = append(data, p...)
	}
	x := Matrix{Data: data, Rows: 4, Cols: 2}
	got, err := Compute(x, []int64{0, 0, 1, 1}, []string{"c_recall@1", "e_recall@1"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// cosine: 0<->10°, 90° -> 10° (cos 80° > cos 90°), 180° -> 90°: hits 0,1,3 -> 0.75.
	// L2: point 0 at (5,0) is far from all; its nearest is (0.98,0.17) label 0: hit;
	// 1 -> 3? |(0.98,.17)-(0,2)| = 2.08, to (-1,0) 1.99, to (5,0) 4.02 -> 3 (label 1): miss;
	// 2 (0,2) -> 1 (2.08) vs 3 (2.24): miss; 3 -> 1: miss. -> 0.25.
	if got["c_recall@1"] != 0.75 || got["e_recall@1"] != 0.25 {
		t.Errorf("got %v", got)
	}
}

func TestDistsHandComputed(t *testing.T) {
	// A: (1,0),(0,1) -> intra 1; B: (1,0),(1,0) -> 0; C: (-1,0) alone -> NaN -> max = 1.
	x := Matrix{Data: []float32{1, 0, 0, 1, 1, 0, 1, 0, -1, 0}, Rows: 5, Cols: 2}
	y := []int64{0, 0, 1, 1, 2}
	intra, inter := DistsIntra(x, y), DistsInter(x, y)
	if !close(intra, 2.0/3, 1e-15) {
		t.Errorf("intra %v, want 2/3", intra)
	}
	// normalised means (1,1)/√2, (1,0), (-1,0): pair distances 1-1/√2, 1+1/√2, 2 -> 8/6.
	if !close(inter, 4.0/3, 1e-15) {
		t.Errorf("inter %v, want 4/3", inter)
	}
	if r := DistsIntraOverInter(x, y); !close(r, 0.5, 1e-15) {
		t.Errorf("ratio %v, want 0.5", r)
	}
}

func TestRhoSpectrumHandComputed(t *testing.T) {
	x := Matrix{Data: []float32{3, 0, 0, 1}, Rows: 2, Cols: 2} // s = 3, 1
	cases := []struct {
		mode int
		want float64
	}{
		{1, 0.5 * math.Log(4.0/3)},
		{2, 0},
		{-1, 0.75*math.Log(1.5) + 0.25*math.Log(0.5)},
	}
	for _, c := range cases {
		got, err := RhoSpectrum(x, c.mode)
		if err != nil || !close(got, c.want, 1e-14) {
			t.Errorf("mode %d: %v %v, want %v", c.mode, got, err, c.want)
		}
	}
	if _, err := RhoSpectrum(x, 0); err == nil {
		t.Error("mode 0 accepted")
	}
}

func TestSingularValuesRotatedDiagonal(t *testing.T) {
	// X = U·diag(4,2,1)·Vᵀ with U, V permutation/sign matrices: singular values 4, 2, 1.
	x := Matrix{Data: []float32{0, 0, -4, 2, 0, 0, 0, 1, 0, 0, 0, 0}, Rows: 4, Cols: 3}
	sv := SingularValues(x)
	for i, w := range []float64{4, 2, 1} {
		if !close(sv[i], w, 1e-12) {
			t.Errorf("s = %v", sv)
		}
	}
}

func TestParseNames(t *testing.T) {
	cases := []struct {
		names []string
		bad   string
	}{
		{Default, ""},
		{[]string{"c_recall@3", "c_mAP_1000", "mAP@R", "c_mAP@R", "dists@inter", "rho_spectrum@-2", "rho_spectrum@1@embeds"}, ""},
		{[]string{"e_recall@0"}, `"e_recall@0"`},
		{[]string{"recall@1"}, `"recall@1"`},
		{[]string{"c_nmi"}, `"c_nmi"`},
		{[]string{"rho_spectrum@0"}, `"rho_spectrum@0"`},
		{[]string{"nmi", "nmi"}, "nmi (duplicate)"},
	}
	for _, c := range cases {
		err := Parse(c.names)
		if (err != nil) != (c.bad != "") || (err != nil && !strings.Contains(err.Error(), c.bad)) {
			t.Errorf("%v: error %v, want one naming %s", c.names, err, c.bad)
		}
	}
}

func TestComputeNeedsClusterCount(t *testing.T) {
	x, y := tieSet()
	if _, err := Compute(x, y, []string{"nmi"}, Options{}); err == nil {
		t.Error("nmi without KMeansK accepted")
	}
	got, err := Compute(x, y, []string{"nmi", "f1"}, Options{KMeansK: 2})
	if err != nil {
		t.Fatal(err)
	}
	// perm(4, 1235, modulo) picks the initial centroids; clusters {0,0,1} and {3} at the end
	// (the 20 updates converge to means 1/3 and 3), labels a,b,a | b:
	// F1: TP = C2(2)=1 (a,a in cluster 0); A = 1+1 = 2; Bc = C2(3) = 3 -> P=1/2, R=1/3, F1=0.4.
	if !close(got["f1"], 0.4, 1e-15) {
		t.Errorf("f1 = %v, want 0.4", got["f1"])
	}
}
