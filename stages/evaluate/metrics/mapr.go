package metrics

var mapRMetric = Metric{
	Names:   []string{"mAP@R", "c_mAP@R"},
	Summary: "mAP@R, c_mAP@R",
	Doc: "MAP@R (Musgrave et al., 2020): for a query whose class has R other members, the average precision " +
		"over its first R neighbours divided by R; singleton classes are left out (L2 or, with c_, cosine).",
	parse: func(name string) (metric, bool, error) {
		rest, cosine := cosinePrefix(name)
		if rest != "mAP@R" {
			return metric{}, false, nil
		}
		return metric{
			cosine: cosine,
			// every query needs R neighbours, R the largest class size minus the query
			neighbours: func(labels []int64) int { return max(MaxClassSize(labels)-1, 1) },
			value:      func(in *inputs) (float64, error) { return MAPAtR(in.nn, in.labels), nil },
		}, true, nil
	},
}

// MAPAtR is MAP@R (Musgrave et al., "A Metric Learning Reality Check", 2020): for a query
// whose class has R other members, (1/R) Σ_{r≤R} rel_r·prec@r over its first R neighbours;
// queries with R = 0 (singleton classes) are left out of the mean. Neighbours must have at
// least max R columns (else the tail counts as misses).
func MAPAtR(nn Neighbours, labels []int64) float64 {
	sizes := classSizes(labels)
	var sum float64
	cnt := 0
	for i, y := range labels {
		R := sizes[y] - 1
		if R == 0 {
			continue
		}
		row := nn.Idx[i*nn.K : i*nn.K+min(R, nn.K)]
		var ap float64
		hits := 0
		for r, j := range row {
			if labels[j] == y {
				hits++
				ap += float64(hits) / float64(r+1)
			}
		}
		sum += ap / float64(R)
		cnt++
	}
	if cnt == 0 {
		return 0
	}
	return sum / float64(cnt)
}

// MaxClassSize is the largest class size (MAP@R needs max-1 neighbours).
func MaxClassSize(labels []int64) int {
	m := 0
	for _, s := range classSizes(labels) {
		m = max(m, s)
	}
	return m
}
