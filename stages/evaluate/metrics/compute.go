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
	// FaissPadding reproduces the original's neighbour lists on a set with no more rows
	// than a metric asks neighbours for (mAP_1000 on 1000 images or fewer): the original
	// asks faiss for k_max+1 neighbours anyway, faiss fills the missing ones with index
	// -1, and numpy reads index -1 as the last row, so every missing neighbour counts as
	// a neighbour of the last row's class. false (dmlrun's rule) cuts the lists to the
	// N−1 real neighbours. It changes nothing when N > k_max.
	FaissPadding bool
	Backend      Backend                       // nil: GoBackend{}
	Logf         func(format string, a ...any) // optional progress lines
	// Neighbours asks ComputeAll for this many L2 nearest neighbours of every query
	// (after the drop-first rule; fewer when the set is smaller): the lists behind the
	// retrieval picture and the per-query diff. The metrics' own search is reused, with
	// a larger k when they need fewer; they still see lists of their own length, so their
	// values do not depend on it (the stable tie order makes a shorter list a prefix of
	// a longer one).
	Neighbours int
}

// Computation is what ComputeAll returns: the metric values and, when Options.Neighbours
// asked for them, each query's nearest L2 neighbours.
type Computation struct {
	Values map[string]float64
	L2     Neighbours // K = 0 when none were asked for
}

// Compute evaluates the named metrics on embeddings x (N x D) with labels (N). Shared work
// is done once: k-means if nmi/f1 are asked for, an L2 kNN search with k_max+1 neighbours
// (first one dropped as self) for e_* metrics, and the same on row-normalised x with inner
// products for c_* metrics, where k_max is the largest k any metric needs. When the set has
// fewer than k_max+1 rows, k_max is clipped to N−1, unless opt.FaissPadding asks for the
// original's padded lists.
//
// Embeddings with a NaN or infinite value are refused with a *NonFiniteError: distances
// to them are NaN, so they would be ranked and clustered into numbers that look like
// results (e_recall@1 0.2, nmi 0 for an all-NaN set).
func Compute(x Matrix, labels []int64, names []string, opt Options) (map[string]float64, error) {
	c, err := ComputeAll(x, labels, names, opt)
	if err != nil {
		return nil, err
	}
	return c.Values, nil
}

// ComputeAll is Compute that also returns the L2 neighbour lists Options.Neighbours asks
// for.
func ComputeAll(x Matrix, labels []int64, names []string, opt Options) (*Computation, error) {
	if err := x.check("evaluate"); err != nil {
		return nil, err
	}
	if err := checkFinite(x); err != nil {
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
	kSearch := kNeed
	kSearch[0] = max(kSearch[0], opt.Neighbours)
	var nn [2]Neighbours
	var kept Neighbours
	for c := range 2 {
		if kSearch[c] == 0 {
			continue
		}
		k1 := min(kSearch[c]+1, x.Rows)
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
		if c == 0 && opt.Neighbours > 0 {
			kept = nn[c].Prefix(min(opt.Neighbours, nn[c].K))
		}
		if kNeed[c] < kSearch[c] {
			nn[c] = nn[c].Prefix(min(kNeed[c], nn[c].K))
		}
		if opt.FaissPadding && nn[c].K < kNeed[c] {
			logf("%s neighbours: %d missing per query, padded with the last row as the original's faiss -1 entries", what, kNeed[c]-nn[c].K)
			nn[c] = padNeighbours(nn[c], x.Rows, kNeed[c])
		}
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
	return &Computation{Values: out, L2: kept}, nil
}

// padNeighbours extends every list of nn to k entries with index n−1: faiss answers -1 for
// neighbours a too-small index does not have, and the original looks labels up with
// numpy, where index -1 is the last row.
func padNeighbours(nn Neighbours, n, k int) Neighbours {
	out := Neighbours{Idx: make([]int32, n*k), K: k}
	for i := 0; i < n; i++ {
		row := out.Idx[i*k : (i+1)*k]
		copy(row, nn.Idx[i*nn.K:(i+1)*nn.K])
		for r := nn.K; r < k; r++ {
			row[r] = int32(n - 1)
		}
	}
	return out
}

// NonFiniteError is an embedding matrix with NaN or infinite values: Rows of its Total
// rows have at least one, the first of them is row First (0-based, dataset order).
type NonFiniteError struct {
	Rows, Total, First int
	Value              float32 // the first bad value (NaN, +Inf or -Inf)
}

func (e *NonFiniteError) Error() string {
	return fmt.Sprintf("%d of %d embeddings have a non-finite value (the first: row %d, %v); the model's output is not a number, so no metric of it means anything: the training diverged or the weights are damaged (look at the train log's loss and skipped columns)",
		e.Rows, e.Total, e.First, e.Value)
}

// checkFinite returns a *NonFiniteError when a value of x is NaN or ±Inf.
func checkFinite(x Matrix) error {
	var e *NonFiniteError
	for i := 0; i < x.Rows; i++ {
		for _, v := range x.Row(i) {
			if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
				if e == nil {
					e = &NonFiniteError{Total: x.Rows, First: i, Value: v}
				}
				e.Rows++
				break
			}
		}
	}
	if e != nil {
		return e
	}
	return nil
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
