package metrics

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"dmlrun/rng"
)

type reference struct {
	FaissRandInt string `json:"faiss_rand_int"`
	Perm20       []int  `json:"faiss_rand_perm_1000_seed1235_first20"`
	Clustering   []struct {
		Name  string  `json:"name"`
		Truth []int64 `json:"truth"`
		Pred  []int32 `json:"pred"`
		NMI   float64 `json:"nmi"`
		F1    float64 `json:"f1"`
	} `json:"clustering"`
	Embedding struct {
		N, D     int
		X        []float32          `json:"x"`
		Labels   []int64            `json:"labels"`
		Expected map[string]float64 `json:"expected"`
		SV       []float64          `json:"singular_values"`
	} `json:"embedding"`
	KMeans []struct {
		Name      string `json:"name"`
		N, D, K   int
		Iters     int
		X         []float32 `json:"x"`
		Centroids []float32 `json:"centroids"`
		Labels    []int32   `json:"labels"`
		Splits    []int     `json:"splits"` // per iteration
	} `json:"kmeans"`
}

func loadRef(t *testing.T) *reference {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r reference
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func close(a, b, tol float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }

func TestRandPermMatchesFaiss(t *testing.T) {
	r := loadRef(t)
	v := RandIntModulo
	if r.FaissRandInt == "mulshift" {
		v = RandIntMulShift
	}
	if r.FaissRandInt != "modulo" {
		t.Errorf("reference faiss uses %s rand_int; KMeansOptions zero value assumes modulo", r.FaissRandInt)
	}
	p := rng.FaissRandPerm(1000, 1235, v)
	for i, want := range r.Perm20 {
		if p[i] != want {
			t.Fatalf("perm[%d] = %d, faiss %d (first 20 %v)", i, p[i], want, p[:20])
		}
	}
	other := rng.FaissRandPerm(1000, 1235, 1-v)
	if other[0] == p[0] && other[1] == p[1] && other[2] == p[2] {
		t.Fatalf("both rand_int variants give the same prefix; the test cannot tell them apart")
	}
}

func TestClusteringScoresAgainstSklearn(t *testing.T) {
	for _, c := range loadRef(t).Clustering {
		t.Run(c.Name, func(t *testing.T) {
			if got := NMI(c.Truth, c.Pred); !close(got, c.NMI, 1e-12) {
				t.Errorf("NMI %.17g, sklearn %.17g", got, c.NMI)
			}
			if got := F1(c.Truth, c.Pred); !close(got, c.F1, 1e-12) {
				t.Errorf("F1 %.17g, pair_confusion_matrix %.17g", got, c.F1)
			}
		})
	}
}

func TestHandComputedClustering(t *testing.T) {
	// truth {0,0,0,1,1,1}, pred {0,0,1,1,2,2}: n_ck = (2,1 | 1,2) -> TP = 1+0+0+1 = 2,
	// A = 3+3 = 6, Bc = 1+1+1 = 3, P = 1/3, R = 2/3, F1 = 4/9.
	truth := []int64{0, 0, 0, 1, 1, 1}
	pred := []int32{0, 0, 1, 1, 2, 2}
	if got := F1(truth, pred); !close(got, 4.0/9, 1e-15) {
		t.Errorf("F1 = %v, want 4/9", got)
	}
	// MI = Σ p_ck ln(p_ck/(p_c p_k)): cells (0,0) 2/6, (0,1) 1/6, (1,1) 1/6, (1,2) 2/6;
	// p_c = 1/2 each; p_k = 1/3 each.
	mi := 2.0/6*math.Log((2.0/6)/(0.5/3))*2 + 1.0/6*math.Log((1.0/6)/(0.5/3))*2
	hu, hv := math.Log(2), math.Log(3)
	if got := NMI(truth, pred); !close(got, mi/((hu+hv)/2), 1e-14) {
		t.Errorf("NMI = %v, want %v", got, mi/((hu+hv)/2))
	}
}

func TestEmbeddingMetricsAgainstNumpy(t *testing.T) {
	r := loadRef(t)
	e := r.Embedding
	x := Matrix{Data: e.X, Rows: e.N, Cols: e.D}
	names := make([]string, 0, len(e.Expected))
	for n := range e.Expected {
		names = append(names, n)
	}
	got, err := Compute(x, e.Labels, names, Options{Backend: GoBackend{Workers: 2}})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		tol := 1e-12
		if n[:4] == "dist" || n[:4] == "rho_" {
			tol = 1e-6 // float32 inputs summed in float64 in different orders
		}
		if !close(got[n], e.Expected[n], tol) {
			t.Errorf("%s = %.15g, reference %.15g", n, got[n], e.Expected[n])
		}
	}
	sv := SingularValues(x)
	for i := range sv {
		if !close(sv[i], e.SV[i], 1e-9) {
			t.Errorf("singular value %d: %.15g, numpy %.15g", i, sv[i], e.SV[i])
		}
	}
}

func TestKMeansMatchesFaiss(t *testing.T) {
	for _, c := range loadRef(t).KMeans {
		t.Run(c.Name, func(t *testing.T) {
			x := Matrix{Data: c.X, Rows: c.N, Cols: c.D}
			res, err := KMeans(x, c.K, KMeansOptions{Iters: c.Iters}, GoBackend{Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			for _, s := range c.Splits {
				want += s
			}
			if res.Splits != want {
				t.Errorf("splits %d, faiss %d", res.Splits, want)
			}
			// A differing assignment is only allowed for an exact tie in real arithmetic
			// (the repeats case has points midway between split centroid pairs), where
			// faiss's BLAS rounding and ours decide differently.
			diff, ties := 0, 0
			for i := range c.Labels {
				if res.Labels[i] == c.Labels[i] {
					continue
				}
				da := sqdist(x.Row(i), res.Centroids.Row(int(res.Labels[i])))
				db := sqdist(x.Row(i), res.Centroids.Row(int(c.Labels[i])))
				if math.Abs(da-db) <= 1e-6*math.Max(1, da) {
					ties++
				} else {
					diff++
				}
			}
			if diff > 0 {
				t.Errorf("%d of %d assignments differ from faiss beyond ties", diff, c.N)
			}
			t.Logf("%d assignments differ on exact ties", ties)
			var maxd float64
			for i := range c.Centroids {
				maxd = math.Max(maxd, math.Abs(float64(res.Centroids.Data[i]-c.Centroids[i])))
			}
			if maxd > 1e-6 {
				t.Errorf("centroids differ from faiss by up to %g", maxd)
			}
			t.Logf("max |centroid - faiss| = %g", maxd)
		})
	}
}

func sqdist(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return s
}
