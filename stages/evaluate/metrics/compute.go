package metrics

import (
	"fmt"
	"math"
	"sort"
)

// Options configure Compute.
type Options struct {
	// KMeansK is the number of k-means clusters for nmi and f1. The original uses the
	// number of TRAINING classes even when evaluating the test set. Required (>0) when
	// nmi or f1 is requested.
	KMeansK int
	KMeans  KMeansOptions
	Backend Backend                       // nil: GoBackend{}
	Logf    func(format string, a ...any) // optional progress lines
}

// Compute evaluates the named metrics on embeddings x (N x D) with labels (N). Shared work
// is done once: k-means if nmi/f1 are asked for, an L2 kNN search with k_max+1 neighbours
// (first one dropped as self) for e_* metrics, and the same on row-normalised x with inner
// products for c_* metrics, where k_max is the largest k any metric needs. When the set has
// fewer than k_max+1 rows, k_max is clipped to N−1 (the original would index faiss's −1
// padding instead).
func Compute(x Matrix, labels []int64, names []string, opt Options) (map[string]float64, error) {
	if err := x.check("evaluate"); err != nil {
		return nil, err
	}
	if len(labels) != x.Rows {
		return nil, fmt.Errorf("evaluate: %d labels for %d embeddings", len(labels), x.Rows)
	}
	if x.Rows < 2 {
		return nil, fmt.Errorf("evaluate: need at least 2 embeddings, have %d", x.Rows)
	}
	specs, err := parse(names)
	if err != nil {
		return nil, err
	}
	b := opt.Backend
	if b == nil {
		b = GoBackend{}
	}
	logf := opt.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	kNeed := [2]int{} // [euclid, cosine]
	var needKM bool
	for _, s := range specs {
		if s.neighbours != nil {
			c := cosineIndex(s.cosine)
			kNeed[c] = max(kNeed[c], s.neighbours(labels))
		}
		needKM = needKM || s.kmeans
	}
	var nn [2]Neighbours
	for c := range 2 {
		if kNeed[c] == 0 {
			continue
		}
		k1 := min(kNeed[c]+1, x.Rows)
		xs, ip, what := x, false, "L2"
		if c == 1 {
			xs, ip, what = normalizeRows(x), true, "cosine"
		}
		logf("%s neighbours: %d queries, k=%d (+1 dropped as self)", what, x.Rows, k1-1)
		idx, err := SearchSelf(b, xs, k1, ip)
		if err != nil {
			return nil, fmt.Errorf("%s neighbour search: %w", what, err)
		}
		nn[c] = DropFirst(idx, x.Rows, k1)
	}
	var km *KMeansResult
	if needKM {
		if opt.KMeansK < 1 {
			return nil, fmt.Errorf("nmi/f1 need the number of k-means clusters (training classes); got %d", opt.KMeansK)
		}
		logf("k-means: %d points, %d clusters, %d iterations", x.Rows, opt.KMeansK, opt.KMeans.filled().Iters)
		km, err = KMeans(x, opt.KMeansK, opt.KMeans, b)
		if err != nil {
			return nil, err
		}
	}
	out := map[string]float64{}
	for _, s := range specs {
		v, err := s.value(&inputs{x: x, labels: labels, nn: nn[cosineIndex(s.cosine)], km: km})
		if err != nil {
			return nil, err
		}
		out[s.name] = v
	}
	return out, nil
}

func cosineIndex(cosine bool) int {
	if cosine {
		return 1
	}
	return 0
}

// normalizeRows is sklearn.preprocessing.normalize (L2, rows; zero rows stay zero).
func normalizeRows(x Matrix) Matrix {
	out := Matrix{Data: make([]float32, len(x.Data)), Rows: x.Rows, Cols: x.Cols}
	for i := 0; i < x.Rows; i++ {
		r := x.Row(i)
		var ss float64
		for _, v := range r {
			ss += float64(v) * float64(v)
		}
		n := math.Sqrt(ss)
		if n == 0 {
			continue
		}
		o := out.Row(i)
		for j, v := range r {
			o[j] = float32(float64(v) / n)
		}
	}
	return out
}

// SortedNames returns the keys of a metrics map in a stable order (the order of Default
// first, then alphabetical).
func SortedNames(m map[string]float64) []string {
	rank := map[string]int{}
	for i, n := range Default {
		rank[n] = i
	}
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool {
		ri, oki := rank[out[i]]
		rj, okj := rank[out[j]]
		if oki != okj {
			return oki
		}
		if oki {
			return ri < rj
		}
		return out[i] < out[j]
	})
	return out
}
