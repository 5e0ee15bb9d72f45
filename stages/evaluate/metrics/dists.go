package metrics

import (
	"errors"
	"math"
	"sort"
	"strings"
)

var distsMetric = Metric{
	Names:   []string{"dists@intra", "dists@inter", "dists@intra_over_inter"},
	Summary: "dists@intra, dists@inter, dists@intra_over_inter",
	Doc: "Embedding-space statistics of the original: the mean cosine distance within classes (intra), between " +
		"L2-normalised class means (inter), and their ratio (intra_over_inter).",
	parse: func(name string) (metric, bool, error) {
		mode, ok := strings.CutPrefix(name, "dists@")
		if !ok {
			return metric{}, false, nil
		}
		var f func(Matrix, []int64) float64
		switch mode {
		case "intra":
			f = DistsIntra
		case "inter":
			f = DistsInter
		case "intra_over_inter":
			f = DistsIntraOverInter
		default:
			return metric{}, true, errors.New(`the dists metrics are dists@intra, dists@inter and dists@intra_over_inter`)
		}
		return metric{value: func(in *inputs) (float64, error) { return f(in.x, in.labels), nil }}, true, nil
	},
}

// cosineMeanOffDiag returns Σ_{i,j} cosdist(v_i, v_j) / (n² − n) for unit vectors v (the
// diagonal contributes 0), using Σ_{i,j} (1 − v_i·v_j) = n² − |Σ v_i|². This is scipy's
// cdist(..., 'cosine') summed over all entries, in O(n·D) instead of O(n²·D).
func cosineMeanOffDiag(unit [][]float64) float64 {
	n := len(unit)
	if n == 0 {
		return math.NaN()
	}
	s := make([]float64, len(unit[0]))
	for _, v := range unit {
		for j, x := range v {
			s[j] += x
		}
	}
	var ss float64
	for _, x := range s {
		ss += x * x
	}
	fn := float64(n)
	return (fn*fn - ss) / (fn*fn - fn) // 0/0 = NaN for n == 1, as numpy gives
}

func unit64(v []float32) []float64 {
	out := make([]float64, len(v))
	var ss float64
	for i, x := range v {
		out[i] = float64(x)
		ss += float64(x) * float64(x)
	}
	nrm := math.Sqrt(ss)
	for i := range out {
		out[i] /= nrm
	}
	return out
}

// groupByLabel returns the row indices of each label, labels in increasing order.
func groupByLabel(labels []int64) [][]int {
	m := map[int64][]int{}
	for i, y := range labels {
		m[y] = append(m[y], i)
	}
	keys := make([]int64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool { return keys[a] < keys[b] })
	out := make([][]int, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

// DistsIntra is dists@intra: per class the mean cosine distance over ordered pairs of
// distinct members; classes where that is NaN or inf (a single member) get the largest
// finite class value; then the mean over classes. The original meant the same but picked
// its replacement value from elements 0 and 1 only (index array built from 1 − bool,
// reference-method.md §14.15); we use the maximum over all finite classes.
func DistsIntra(x Matrix, labels []int64) float64 {
	groups := groupByLabel(labels)
	vals := make([]float64, len(groups))
	maxv := math.Inf(-1)
	for g, idx := range groups {
		u := make([][]float64, len(idx))
		for i, r := range idx {
			u[i] = unit64(x.Row(r))
		}
		vals[g] = cosineMeanOffDiag(u)
		if !math.IsNaN(vals[g]) && !math.IsInf(vals[g], 0) {
			maxv = math.Max(maxv, vals[g])
		}
	}
	var sum float64
	for _, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			v = maxv
		}
		sum += v
	}
	return sum / float64(len(vals))
}

// DistsInter is dists@inter: the mean pairwise cosine distance between the L2-normalised
// class means, over ordered pairs of distinct classes.
func DistsInter(x Matrix, labels []int64) float64 {
	groups := groupByLabel(labels)
	coms := make([][]float64, len(groups))
	for g, idx := range groups {
		m := make([]float64, x.Cols)
		for _, r := range idx {
			for j, v := range x.Row(r) {
				m[j] += float64(v)
			}
		}
		var ss float64
		for j := range m {
			m[j] /= float64(len(idx))
			ss += m[j] * m[j]
		}
		nrm := math.Sqrt(ss)
		for j := range m {
			m[j] /= nrm
		}
		coms[g] = m
	}
	return cosineMeanOffDiag(coms)
}

// DistsIntraOverInter is dists@intra / max(dists@inter, 1e-8).
func DistsIntraOverInter(x Matrix, labels []int64) float64 {
	return DistsIntra(x, labels) / math.Max(DistsInter(x, labels), 1e-8)
}
