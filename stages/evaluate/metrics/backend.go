package metrics

import (
	"fmt"
	"runtime"
	"sort"
	"sync"
)

// Matrix is a dense row-major float32 matrix (N embeddings of dimension D).
type Matrix struct {
	Data       []float32
	Rows, Cols int
}

// Row returns row i (shared memory).
func (m Matrix) Row(i int) []float32 { return m.Data[i*m.Cols : (i+1)*m.Cols] }

func (m Matrix) check(what string) error {
	if m.Rows < 0 || m.Cols <= 0 || len(m.Data) != m.Rows*m.Cols {
		return fmt.Errorf("%s: matrix %dx%d has %d values", what, m.Rows, m.Cols, len(m.Data))
	}
	return nil
}

// Backend does the two O(N·M·D) steps: exhaustive nearest-neighbour search of a matrix
// against itself and nearest-centroid assignment. GoBackend is the pure-Go reference used
// by tests and small inputs; stages/evaluate provides the libtorch one used in production.
//
// Both must follow the same conventions so that results agree up to float rounding:
//
//   - Nearest-centroid assignment (k-means) uses faiss's BLAS form of the L2 distance,
//     dis = |x|² + |c|² − 2<x,c> in float32 clamped at 0 (negative values come from
//     round-off), so that k-means makes faiss's choices.
//   - L2 neighbour search ranks the rows y of a query x by |y|² − 2<x,y> (the distance
//     minus the query's own norm, constant along the row), in float32. The ranking equals
//     faiss's except where float rounding decides (near-ties), where faiss's own BLAS
//     summation order decides too; in exchange the libtorch backend folds the norm into
//     the matrix product and makes no extra pass over the N x N scores.
//   - Inner-product search ranks by <x,y>, largest first.
//   - Ties are broken stably: among equal distances (scores) the lower index comes first.
//     BLAS rounding can still give two identical vectors slightly different scores
//     against the same query, so exact duplicates are grouped before searching
//     (SearchSelf), which is what makes the drop-first rule well defined: a query whose
//     exact duplicate has a lower index gets the duplicate as neighbour 0 (dropped) and
//     itself as neighbour 1 (kept, counted as a hit). The original relies on faiss's heap
//     order here, which is unspecified; we pin it down.
type Backend interface {
	// Search returns, for every row i of x, the indices of the k rows of x (i itself
	// included, nothing dropped) that are nearest to row i, best first, as a Rows x k
	// row-major slice. ip selects inner product (largest first) instead of L2.
	// It requires 1 <= k <= x.Rows.
	Search(x Matrix, k int, ip bool) ([]int32, error)
	// Assign returns, for every row of x, the index of the nearest row of c under L2
	// (faiss's formula above, lowest index on ties).
	Assign(x, c Matrix) ([]int32, error)
}

// GoBackend is the pure-Go Backend: exact, multi-goroutine, but without BLAS, so it is
// meant for tests and for small evaluation sets (a few thousand rows).
type GoBackend struct {
	Workers int // 0: runtime.NumCPU()
}

func (g GoBackend) workers() int {
	if g.Workers > 0 {
		return g.Workers
	}
	return runtime.NumCPU()
}

// dot is a float32 dot product with four partial sums (the same association a 4-wide SIMD
// kernel uses); exactness across backends is only up to rounding anyway.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func rowNorms(m Matrix) []float32 {
	out := make([]float32, m.Rows)
	for i := range out {
		r := m.Row(i)
		out[i] = dot(r, r)
	}
	return out
}

// l2 is faiss's float32 distance formula, clamped at 0.
func l2(xn, yn, ip float32) float32 {
	d := float32(xn+yn) - float32(2*ip)
	if d < 0 {
		return 0
	}
	return d
}

// parallel runs fn over [0,n) split into contiguous blocks, one goroutine per worker.
func parallel(n, workers int, fn func(lo, hi int)) {
	if workers > n {
		workers = n
	}
	if workers <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	step := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += step {
		hi := min(lo+step, n)
		wg.Add(1)
		go func() { defer wg.Done(); fn(lo, hi) }()
	}
	wg.Wait()
}

// Search implements Backend.
func (g GoBackend) Search(x Matrix, k int, ip bool) ([]int32, error) {
	if err := x.check("search"); err != nil {
		return nil, err
	}
	if k < 1 || k > x.Rows {
		return nil, fmt.Errorf("search: k=%d neighbours requested from %d rows", k, x.Rows)
	}
	n := x.Rows
	norms := rowNorms(x)
	out := make([]int32, n*k)
	parallel(n, g.workers(), func(lo, hi int) {
		key := make([]float32, n) // smaller is better
		for i := lo; i < hi; i++ {
			xi := x.Row(i)
			for j := 0; j < n; j++ {
				p := dot(xi, x.Row(j))
				if ip {
					key[j] = -p
				} else {
					key[j] = norms[j] - 2*p
				}
			}
			SelectStable(key, k, out[i*k:(i+1)*k])
		}
	})
	return out, nil
}

// SelectStable writes into dst (len k) the indices of the k smallest keys, ordered by
// (key ascending, index ascending). It is the tie rule every Backend follows.
func SelectStable(key []float32, k int, dst []int32) {
	// A max-heap (by (key, index)) of the best k seen so far.
	h := make([]int32, 0, k)
	worse := func(a, b int32) bool { // a ranks after b
		if key[a] != key[b] {
			return key[a] > key[b]
		}
		return a > b
	}
	down := func(i int) {
		for {
			l := 2*i + 1
			if l >= len(h) {
				return
			}
			m := l
			if r := l + 1; r < len(h) && worse(h[r], h[l]) {
				m = r
			}
			if !worse(h[m], h[i]) {
				return
			}
			h[i], h[m] = h[m], h[i]
			i = m
		}
	}
	for j := range key {
		jj := int32(j)
		if len(h) < k {
			h = append(h, jj)
			for c := len(h) - 1; c > 0; {
				p := (c - 1) / 2
				if !worse(h[c], h[p]) {
					break
				}
				h[c], h[p] = h[p], h[c]
				c = p
			}
			continue
		}
		if worse(h[0], jj) {
			h[0] = jj
			down(0)
		}
	}
	sort.Slice(h, func(a, b int) bool { return worse(h[b], h[a]) })
	copy(dst, h)
}

// Assign implements Backend.
func (g GoBackend) Assign(x, c Matrix) ([]int32, error) {
	if err := x.check("assign: points"); err != nil {
		return nil, err
	}
	if err := c.check("assign: centroids"); err != nil {
		return nil, err
	}
	if x.Cols != c.Cols || c.Rows == 0 {
		return nil, fmt.Errorf("assign: points %dx%d vs centroids %dx%d", x.Rows, x.Cols, c.Rows, c.Cols)
	}
	xn, cn := rowNorms(x), rowNorms(c)
	out := make([]int32, x.Rows)
	parallel(x.Rows, g.workers(), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			xi := x.Row(i)
			best, bj := float32(0), int32(-1)
			for j := 0; j < c.Rows; j++ {
				d := l2(xn[i], cn[j], dot(xi, c.Row(j)))
				if bj < 0 || d < best {
					best, bj = d, int32(j)
				}
			}
			out[i] = bj
		}
	})
	return out, nil
}
