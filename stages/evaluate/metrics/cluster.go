package metrics

import "sort"

// contingency returns the non-zero cells of the contingency table of two labelings plus the
// row and column marginals, each in a deterministic order.
func contingency(a []int64, b []int32) (cells []float64, rowOf, colOf []int, rows, cols []float64) {
	ai, na := denseIDs(a)
	bi64 := make([]int64, len(b))
	for i, v := range b {
		bi64[i] = int64(v)
	}
	bi, nb := denseIDs(bi64)
	rows = make([]float64, na)
	cols = make([]float64, nb)
	type cell struct{ r, c int }
	m := map[cell]float64{}
	for i := range ai {
		rows[ai[i]]++
		cols[bi[i]]++
		m[cell{ai[i], bi[i]}]++
	}
	keys := make([]cell, 0, len(m))
	for c := range m {
		keys = append(keys, c)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].r != keys[j].r {
			return keys[i].r < keys[j].r
		}
		return keys[i].c < keys[j].c
	})
	for _, c := range keys {
		cells = append(cells, m[c])
		rowOf = append(rowOf, c.r)
		colOf = append(colOf, c.c)
	}
	return
}

// denseIDs maps labels to 0..n-1 in sorted label order (np.unique's order).
func denseIDs(l []int64) ([]int, int) {
	u := map[int64]int{}
	for _, v := range l {
		u[v] = 0
	}
	keys := make([]int64, 0, len(u))
	for k := range u {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	for i, k := range keys {
		u[k] = i
	}
	out := make([]int, len(l))
	for i, v := range l {
		out[i] = u[v]
	}
	return out, len(keys)
}
