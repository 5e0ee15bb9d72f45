// Package torchbackend is metrics.Backend on libtorch, kept apart from package metrics so
// that metrics stays pure Go (its tests and the pure-Go backend need no libtorch), and from
// the evaluate stage so that training's per-epoch evaluation (stages/train, which evaluate
// depends on through embed) computes its metrics as the evaluate stage does.
package torchbackend

import (
	"fmt"
	"sort"

	"dmlrun/stages/evaluate/metrics"
	"dmlrun/torch"
)

// Backend is the production metrics.Backend: exhaustive search and k-means assignment
// as chunked matrix products (torch.Mm, BLAS on CPU, cuBLAS on a GPU) followed by TopK or
// MinDim on the device. Only the per-chunk results come back to Go.
//
// It follows metrics.Backend's conventions (L2 search ranks by |y|²−2<x,y>, assignment uses
// faiss's clamped |x|²+|c|²−2<x,c>, ties go to the lower index). TopK is not stable, so each chunk asks
// for one result more than needed and re-sorts the candidates by (distance, index) in Go; a
// row whose k-th and (k+1)-th distances are equal (a tie across the cut-off) is redone
// exactly from its full distance row with metrics.SelectStable.
//
// Its methods run inside torch.Pinned, which the caller holds around all of a node's torch
// work (the evaluate stage's run, training's evaluation, bench/eval): Pinned holds torch's lock (the scope stack is
// process-wide), keeps the goroutine on one OS thread (libtorch's thread count is per
// thread, and glibc's per-thread malloc arenas would otherwise not reuse the chunk buffers
// of one call in the next) and has set the thread count on it. The methods take no lock
// themselves (Pinned's lock is not reentrant), so calling them outside Pinned is a bug.
// Each call frees every tensor it made before returning.
type Backend struct {
	Device torch.Device
	// ChunkBytes bounds the float32 score matrices alive for one chunk of query rows
	// (two chunk x N matrices: the products and the distances), but a chunk has at least
	// 128 rows so that the products stay efficient BLAS calls. 0: 32 MiB. Small chunks
	// are faster on CPU (the scores stay in cache) and keep the peak memory low: a
	// 60,000 x 512 search (123 MB of embeddings) works in about 60 MB of scores.
	ChunkBytes int64
}

func (b Backend) chunkRows(cols int) int64 {
	budget := b.ChunkBytes
	if budget <= 0 {
		budget = 32 << 20
	}
	return max(128, budget/(2*4*int64(cols)))
}

// Search implements metrics.Backend; it runs inside torch.Pinned.
func (b Backend) Search(x metrics.Matrix, k int, ip bool) (out []int32, err error) {
	n := x.Rows
	if k < 1 || k > n {
		return nil, fmt.Errorf("torch search: k=%d neighbours requested from %d rows", k, n)
	}
	// L2 ranking by |y|² − 2<x,y> is folded into the product: with queries [x, 1] and rows
	// [y, −|y|²/2], one GEMM gives <x,y> − |y|²/2, whose largest values are the nearest
	// rows (exactly −1/2 of the key, up to the GEMM's summation order). No pass over the
	// chunk x N scores is needed besides TopK.
	qm, ym := x, x
	if !ip {
		qm, ym = augment(x)
	}
	out = make([]int32, n*k)
	err = torch.WithScope(func() error {
		qt, err := b.upload(qm)
		if err != nil {
			return err
		}
		yt := qt
		if !ip {
			if yt, err = b.upload(ym); err != nil {
				return err
			}
		}
		yT := yt.T().Contiguous()
		kk := int64(min(k+1, n)) // one extra to detect a tie across the cut-off
		step := b.chunkRows(n)
		for i0 := int64(0); i0 < int64(n); i0 += step {
			c := min(step, int64(n)-i0)
			err := torch.WithScope(func() error {
				score := qt.Narrow(0, i0, c).Mm(yT) // [c, N], larger is better
				vals, idx := score.TopK(kk, 1, true, true)
				v, err := vals.Float32s()
				if err != nil {
					return err
				}
				// negated so that smaller is better below (metrics.SelectStable's order)
				for i := range v {
					v[i] = -v[i]
				}
				ix, err := idx.Int64s()
				if err != nil {
					return err
				}
				for r := int64(0); r < c; r++ {
					row := out[(i0+r)*int64(k) : (i0+r+1)*int64(k)]
					rv, ri := v[r*kk:(r+1)*kk], ix[r*kk:(r+1)*kk]
					if kk > int64(k) && rv[k-1] == rv[k] {
						full, err := score.Select(0, r).Float32s()
						if err != nil {
							return err
						}
						for i := range full {
							full[i] = -full[i]
						}
						metrics.SelectStable(full, k, row)
						continue
					}
					stableOrder(rv, ri, row)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("torch search on %s: %w", b.Device, err)
	}
	return out, nil
}

// augment returns [x, 1] (queries) and [x, −|x|²/2] (rows), N x (D+1).
func augment(x metrics.Matrix) (q, y metrics.Matrix) {
	d := x.Cols + 1
	q = metrics.Matrix{Data: make([]float32, x.Rows*d), Rows: x.Rows, Cols: d}
	y = metrics.Matrix{Data: make([]float32, x.Rows*d), Rows: x.Rows, Cols: d}
	for i := 0; i < x.Rows; i++ {
		r := x.Row(i)
		var ss float64
		for _, v := range r {
			ss += float64(v) * float64(v)
		}
		copy(q.Data[i*d:], r)
		copy(y.Data[i*d:], r)
		q.Data[i*d+x.Cols] = 1
		y.Data[i*d+x.Cols] = float32(-ss / 2)
	}
	return q, y
}

// stableOrder writes the first len(dst) candidates ordered by (value, index). TopK returns
// them sorted by value already (ties in any order), so only runs of equal values need
// sorting by index; a general sort would cost more at k = 1001 (mAP_1000).
func stableOrder(v []float32, idx []int64, dst []int32) {
	ord := make([]int, len(v))
	for i := range ord {
		ord[i] = i
	}
	if !sort.SliceIsSorted(ord, func(a, b int) bool { return v[a] < v[b] }) {
		sort.SliceStable(ord, func(a, b int) bool { return v[ord[a]] < v[ord[b]] })
	}
	for lo := 0; lo < len(ord); {
		hi := lo + 1
		for hi < len(ord) && v[ord[hi]] == v[ord[lo]] {
			hi++
		}
		if hi-lo > 1 {
			run := ord[lo:hi]
			sort.Slice(run, func(a, b int) bool { return idx[run[a]] < idx[run[b]] })
		}
		lo = hi
	}
	for i := range dst {
		dst[i] = int32(idx[ord[i]])
	}
}

// Assign implements metrics.Backend; it runs inside torch.Pinned.
func (b Backend) Assign(x, c metrics.Matrix) (out []int32, err error) {
	if x.Cols != c.Cols || c.Rows == 0 {
		return nil, fmt.Errorf("torch assign: points %dx%d vs centroids %dx%d", x.Rows, x.Cols, c.Rows, c.Cols)
	}
	out = make([]int32, x.Rows)
	err = torch.WithScope(func() error {
		xt, err := b.upload(x)
		if err != nil {
			return err
		}
		ct, err := b.upload(c)
		if err != nil {
			return err
		}
		cT := ct.T().Contiguous()
		cn := ct.Square().SumDim([]int64{1}, false).Unsqueeze(0)
		step := b.chunkRows(c.Rows)
		for i0 := int64(0); i0 < int64(x.Rows); i0 += step {
			n := min(step, int64(x.Rows)-i0)
			err := torch.WithScope(func() error {
				q := xt.Narrow(0, i0, n)
				xn := q.Square().SumDim([]int64{1}, false).Unsqueeze(1)
				ip := q.Mm(cT)
				d := xn.Add(cn)
				d.AddInPlace(ip, -2)
				ip.Close()
				// clamp as faiss does: round-off below 0 becomes 0, and the ties that
				// creates go to the lower index in both
				d = d.ClampMin(0)
				_, idx := d.MinDim(1, false) // first minimum on ties, like faiss's strict <
				ix, err := idx.Int64s()
				if err != nil {
					return err
				}
				for r, j := range ix {
					out[i0+int64(r)] = int32(j)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("torch k-means assignment on %s: %w", b.Device, err)
	}
	return out, nil
}

func (b Backend) upload(m metrics.Matrix) (*torch.Tensor, error) {
	t, err := torch.FromFloat32(m.Data, int64(m.Rows), int64(m.Cols))
	if err != nil {
		return nil, err
	}
	if b.Device.Kind != torch.CPU {
		t = t.To(b.Device)
	}
	return t, nil
}
