package metrics

import (
	"math"
	"sort"
)

// float64eps is np.finfo(np.float64).eps, which sklearn uses as a floor and a zero cut-off.
const float64eps = 2.220446049250313e-16

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

// entropy is sklearn's entropy(labels): -Σ p·(ln n_i - ln N) over non-empty classes.
func entropy(counts []float64) float64 {
	var tot float64
	for _, c := range counts {
		tot += c
	}
	if len(counts) <= 1 {
		return 0
	}
	var h float64
	lt := math.Log(tot)
	for _, c := range counts {
		if c > 0 {
			h -= (c / tot) * (math.Log(c) - lt)
		}
	}
	return h
}

// NMI is sklearn.metrics.normalized_mutual_info_score(true, pred) with the default
// arithmetic normalisation MI / ((H(true)+H(pred))/2), including sklearn's special cases:
// 1 when both labelings have a single cluster, 0 when MI is 0.
func NMI(truth []int64, pred []int32) float64 {
	cells, rowOf, colOf, rows, cols := contingency(truth, pred)
	if len(rows) == len(cols) && (len(rows) == 1 || len(rows) == 0) {
		return 1
	}
	mi := mutualInfo(cells, rowOf, colOf, rows, cols)
	if mi == 0 {
		return 0
	}
	norm := math.Max((entropy(rows)+entropy(cols))/2, float64eps)
	return mi / norm
}

// mutualInfo follows sklearn's mutual_info_score term by term (natural log).
func mutualInfo(cells []float64, rowOf, colOf []int, rows, cols []float64) float64 {
	if len(rows) == 1 || len(cols) == 1 {
		return 0
	}
	var total, psum, qsum float64
	for _, c := range cells {
		total += c
	}
	for _, r := range rows {
		psum += r
	}
	for _, c := range cols {
		qsum += c
	}
	lt, lp, lq := math.Log(total), math.Log(psum), math.Log(qsum)
	var mi float64
	for i, c := range cells {
		cnm := c / total
		outer := rows[rowOf[i]] * cols[colOf[i]]
		logOuter := -math.Log(outer) + lp + lq
		t := cnm*(math.Log(c)-lt) + cnm*logOuter
		if math.Abs(t) < float64eps {
			t = 0
		}
		mi += t
	}
	return math.Max(mi, 0)
}

// F1 is the original's clustering F1 over pairs (reference-method.md §9.3): with n_c class
// sizes, m_k cluster sizes, n_ck intersections and C2(n) = n(n-1)/2, TP = Σ C2(n_ck),
// P = TP/Σ C2(n_c), R = TP/Σ C2(m_k), F1 = 2PR/(P+R); 0 when there are no pairs or no TP.
func F1(truth []int64, pred []int32) float64 {
	cells, _, _, rows, cols := contingency(truth, pred)
	c2 := func(x float64) float64 { return x * (x - 1) / 2 }
	var tp, a, b float64
	for _, c := range cells {
		tp += c2(c)
	}
	for _, r := range rows {
		a += c2(r)
	}
	for _, c := range cols {
		b += c2(c)
	}
	if tp == 0 || a == 0 || b == 0 {
		return 0
	}
	p, r := tp/a, tp/b
	return 2 * p * r / (p + r)
}
