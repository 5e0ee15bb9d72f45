package metrics

import "math"

// float64eps is np.finfo(np.float64).eps, which sklearn uses as a floor and a zero cut-off.
const float64eps = 2.220446049250313e-16

var nmiMetric = Metric{
	Names:   []string{"nmi"},
	Summary: "nmi",
	Doc: "Normalised mutual information between the classes and the k-means clusters of the embeddings " +
		"(sklearn's normalized_mutual_info_score, arithmetic normalisation); k is the number of training classes " +
		"unless kmeans_classes says otherwise, as in the original.",
	parse: func(name string) (metric, bool, error) {
		if name != "nmi" {
			return metric{}, false, nil
		}
		return metric{kmeans: true, value: func(in *inputs) (float64, error) { return NMI(in.labels, in.km.Labels), nil }}, true, nil
	},
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
