package evaluate

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"testing"

	"dmlrun/internal/tol"
	"dmlrun/stages/evaluate/metrics"
	"dmlrun/torch"
)

// The CUDA variant of the metric tests: Recall@k, NMI and F1 of one embedding set
// (testdata/reference.json, 300 x 16, neighbours by float64 NumPy brute force) computed
// with TorchBackend on a device, and the tie-free faiss k-means cases.
//
// Tolerance. The metrics are discrete functions of neighbour lists and cluster
// assignments, so the check is on those answers: every answer the device backend gives is
// compared with the exact one (float64, from the same float32 inputs), and may differ
// only where float32 rounding can decide. A dot product of k float32 terms is within
// Sum(eps32, k)·Σ|terms| of exact (internal/tol), so two candidates whose exact keys are
// closer than the sum of their rounding bounds may come out in either order:
//
//	L2 search key   |y|² − 2<x,y>           bound 2·Sum(eps32, D+2)·(|y|² + 2Σ|x_d·y_d|)
//	inner product   −<x,y>                  bound 2·Sum(eps32, D)·Σ|x_d·y_d|
//	assignment      |x|² + |c|² − 2<x,c>    bound 2·Sum(eps32, D+2)·(|x|² + |c|² + 2Σ|x_d·c_d|)
//
// The r-th key of the device's list must be within those bounds of the exact r-th key.
// Then Recall@k may differ from the float64 reference by at most (queries with a near-tie
// swap)/N; when no answer was decided by a near tie, the metrics equal the CPU backend's
// exactly (the code after the backend is the same Go). NMI and F1 depend on the whole
// k-means trajectory, so they are compared exactly when no assignment was a near tie on
// either device, and reported otherwise.

// cudaRefFile is the part of testdata/reference.json this test reads.
type cudaRefFile struct {
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

// checkedBackend wraps a Backend and verifies each answer against the exact one.
type checkedBackend struct {
	inner  metrics.Backend
	t      *testing.T
	dev    string
	swaps  map[int]bool // queries of the last L2/ip search whose list had a near-tie swap
	ties   int          // assignments decided by a near tie, over all calls
	worst  float64      // largest |key difference| / allowed, over all checked answers
	nCalls int
}

func newChecked(t *testing.T, inner metrics.Backend, dev string) *checkedBackend {
	return &checkedBackend{inner: inner, t: t, dev: dev, swaps: map[int]bool{}}
}

func row64(m metrics.Matrix, i int) []float64 {
	r := m.Row(i)
	out := make([]float64, len(r))
	for j, v := range r {
		out[j] = float64(v)
	}
	return out
}

// key returns the exact search key of row y for query x and its rounding bound.
func searchKey(x, y []float64, ip bool) (key, bound float64) {
	var dot, abs, yy float64
	for d := range x {
		dot += x[d] * y[d]
		abs += math.Abs(x[d] * y[d])
		yy += y[d] * y[d]
	}
	if ip {
		return -dot, 2 * tol.Sum(tol.Eps32, len(x)) * abs
	}
	return yy - 2*dot, 2 * tol.Sum(tol.Eps32, len(x)+2) * (yy + 2*abs)
}

func (c *checkedBackend) Search(x metrics.Matrix, k int, ip bool) ([]int32, error) {
	out, err := c.inner.Search(x, k, ip)
	if err != nil {
		return nil, err
	}
	c.nCalls++
	c.swaps = map[int]bool{}
	n := x.Rows
	keys, bounds := make([]float64, n), make([]float64, n)
	order := make([]int, n)
	for q := 0; q < n; q++ {
		xq := row64(x, q)
		for j := 0; j < n; j++ {
			keys[j], bounds[j] = searchKey(xq, row64(x, j), ip)
			order[j] = j
		}
		sort.SliceStable(order, func(a, b int) bool { return keys[order[a]] < keys[order[b]] })
		got := out[q*k : (q+1)*k]
		seen := map[int32]bool{}
		for r, g := range got {
			if g < 0 || int(g) >= n || seen[g] {
				c.t.Errorf("%s search: query %d rank %d: index %d invalid or repeated", c.dev, q, r, g)
				return out, nil
			}
			seen[g] = true
			e := order[r]
			if int(g) == e {
				continue
			}
			allowed := bounds[g] + bounds[e]
			diff := math.Abs(keys[g] - keys[e])
			c.worst = math.Max(c.worst, diff/allowed)
			if !(diff <= allowed) {
				c.t.Errorf("%s search (ip %v): query %d rank %d: row %d (key %.9g), exact row %d (key %.9g): keys differ by %.3g, more than rounding (%.3g)",
					c.dev, ip, q, r, g, keys[g], e, keys[e], diff, allowed)
			}
			c.swaps[q] = true
		}
	}
	return out, nil
}

func (c *checkedBackend) Assign(x, cent metrics.Matrix) ([]int32, error) {
	out, err := c.inner.Assign(x, cent)
	if err != nil {
		return nil, err
	}
	c.nCalls++
	cs := make([][]float64, cent.Rows)
	cn := make([]float64, cent.Rows)
	for j := range cs {
		cs[j] = row64(cent, j)
		for _, v := range cs[j] {
			cn[j] += v * v
		}
	}
	for i := 0; i < x.Rows; i++ {
		xi := row64(x, i)
		var xn float64
		for _, v := range xi {
			xn += v * v
		}
		dist, bound := make([]float64, cent.Rows), make([]float64, cent.Rows)
		best := 0
		for j := range cs {
			var dot, abs float64
			for d := range xi {
				dot += xi[d] * cs[j][d]
				abs += math.Abs(xi[d] * cs[j][d])
			}
			dist[j] = math.Max(0, xn+cn[j]-2*dot)
			bound[j] = 2 * tol.Sum(tol.Eps32, len(xi)+2) * (xn + cn[j] + 2*abs)
			if dist[j] < dist[best] {
				best = j
			}
		}
		g := int(out[i])
		if g == best {
			continue
		}
		allowed := bound[g] + bound[best]
		diff := dist[g] - dist[best]
		c.worst = math.Max(c.worst, diff/allowed)
		if !(diff <= allowed) {
			c.t.Errorf("%s assign: point %d to centroid %d (distance %.9g), nearest is %d (%.9g): %.3g more than rounding (%.3g)",
				c.dev, i, g, dist[g], best, dist[best], diff, allowed)
		}
		c.ties++
	}
	return out, nil
}

func TestCUDAMetricParity(t *testing.T) {
	b, err := os.ReadFile("testdata/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref cudaRefFile
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	x := metrics.Matrix{Data: ref.Embedding.X, Rows: ref.Embedding.N, Cols: ref.Embedding.D}
	labels := ref.Embedding.Labels
	classes := map[int64]bool{}
	for _, l := range labels {
		classes[l] = true
	}
	names := []string{"e_recall@1", "e_recall@2", "e_recall@4", "e_recall@10", "c_recall@1", "c_recall@2", "c_recall@4", "c_recall@10", "nmi", "f1"}
	opt := metrics.Options{KMeansK: len(classes)}

	// compute runs Compute with a checked TorchBackend on dev, inside torch.Pinned as the
	// stage does.
	compute := func(t *testing.T, dev torch.Device) (map[string]float64, *checkedBackend, map[int]bool, map[int]bool) {
		cb := newChecked(t, TorchBackend{Device: dev}, dev.String())
		// one search per family, so record the swaps of each: wrap Compute's calls
		var res map[string]float64
		swapsL2, swapsIP := map[int]bool{}, map[int]bool{}
		err := torch.Pinned(0, func() error {
			o := opt
			o.Backend = recordSwaps{cb, swapsL2, swapsIP}
			var err error
			res, err = metrics.Compute(x, labels, names, o)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return res, cb, swapsL2, swapsIP
	}

	base, baseCB, _, _ := compute(t, torch.CPUDevice)
	for _, dev := range []torch.Device{torch.CPUDevice, {Kind: torch.CUDA}} {
		t.Run(dev.String(), func(t *testing.T) {
			if dev.IsCUDA() && !torch.CUDAAvailable() {
				t.Skipf("no CUDA device visible to libtorch %s", torch.Version())
			}
			got, cb, swL2, swIP := compute(t, dev)
			for _, n := range names {
				want, hasRef := ref.Embedding.Expected[n]
				var allowed float64
				var against string
				switch {
				case hasRef:
					sw := swL2
					if n[0] == 'c' {
						sw = swIP
					}
					allowed = float64(len(sw)) / float64(x.Rows)
					against = "float64 NumPy reference"
				case cb.ties == 0 && baseCB.ties == 0:
					want, against = base[n], "CPU TorchBackend (no near-tie assignment on either)"
				default:
					t.Logf("%s on %v = %.6f, CPU %.6f: not compared, %d assignments on %v and %d on the CPU were near ties",
						n, dev, got[n], base[n], cb.ties, dev, baseCB.ties)
					continue
				}
				d := math.Abs(got[n] - want)
				if !(d <= allowed) {
					t.Errorf("%s on %v = %.9g, %s %.9g: |diff| %.3g > %.3g", n, dev, got[n], against, want, d, allowed)
				}
				rec, _ := json.Marshal(map[string]any{"test": "evaluate metrics (300 x 16)", "device": dev.String(), "quantity": n,
					"value": got[n], "reference": want, "against": against, "max_diff": d,
					"tolerance": fmt.Sprintf("(queries with a near-tie swap)/N = %.4g; every answer within float32 rounding of exact (worst key gap / bound %.3g)", allowed, cb.worst)})
				t.Logf("parity: %s", rec)
			}
			// the tie-free faiss k-means cases: the same labels as faiss, every iteration
			for _, kc := range ref.KMeans[:2] {
				kx := metrics.Matrix{Data: kc.X, Rows: kc.N, Cols: kc.D}
				kcb := newChecked(t, TorchBackend{Device: dev}, dev.String())
				var res *metrics.KMeansResult
				err := torch.Pinned(0, func() error {
					var err error
					res, err = metrics.KMeans(kx, kc.K, metrics.KMeansOptions{Iters: kc.Iters}, kcb)
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				diff := 0
				for i := range kc.Labels {
					if res.Labels[i] != kc.Labels[i] {
						diff++
					}
				}
				if diff != 0 {
					t.Errorf("k-means %s on %v: %d of %d points assigned differently from faiss", kc.Name, dev, diff, kc.N)
				}
				worst := 0.0
				for i := range kc.Centroids {
					worst = math.Max(worst, math.Abs(float64(res.Centroids.Data[i]-kc.Centroids[i])))
				}
				if worst > 1e-6 {
					t.Errorf("k-means %s on %v: centroids differ from faiss by %.3g", kc.Name, dev, worst)
				}
				rec, _ := json.Marshal(map[string]any{"test": "evaluate k-means " + kc.Name, "device": dev.String(), "quantity": "labels and centroids vs faiss",
					"max_diff": worst, "labels_differing": diff, "near_tie_assignments": kcb.ties,
					"tolerance": "labels equal to faiss (tie-free case); centroids within 1e-6 (TestTorchKMeansMatchesFaiss's bound)"})
				t.Logf("parity: %s", rec)
			}
		})
	}
}

// recordSwaps sits between Compute and the checked backend and keeps the near-tie swaps
// of the L2 and the inner-product search apart (Compute does one of each).
type recordSwaps struct {
	cb     *checkedBackend
	l2, ip map[int]bool
}

func (r recordSwaps) Search(x metrics.Matrix, k int, ip bool) ([]int32, error) {
	out, err := r.cb.Search(x, k, ip)
	dst := r.l2
	if ip {
		dst = r.ip
	}
	for q := range r.cb.swaps {
		dst[q] = true
	}
	return out, err
}

func (r recordSwaps) Assign(x, c metrics.Matrix) ([]int32, error) { return r.cb.Assign(x, c) }
