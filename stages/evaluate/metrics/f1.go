package metrics

var f1Metric = Metric{
	Names:   []string{"f1"},
	Summary: "f1",
	Doc: "The original's clustering F1 over pairs of samples: precision and recall of same-cluster pairs " +
		"against same-class pairs, with the k-means clusters nmi uses.",
	parse: func(name string) (metric, bool, error) {
		if name != "f1" {
			return metric{}, false, nil
		}
		return metric{kmeans: true, value: func(in *inputs) (float64, error) { return F1(in.labels, in.km.Labels), nil }}, true, nil
	},
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
