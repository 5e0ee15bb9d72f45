package metrics

import "strings"

var recallMetric = Metric{
	Names:   []string{"e_recall@K", "c_recall@K"},
	Param:   "K",
	Summary: "e_recall@K, c_recall@K",
	Doc: "Recall@K: the fraction of queries with at least one sample of their class among their K nearest " +
		"other samples (L2 for e_, cosine for c_; the first neighbour is dropped as self).",
	Examples: []string{"e_recall@1", "e_recall@2", "e_recall@4", "e_recall@10"},
	parse: func(name string) (metric, bool, error) {
		if !strings.HasPrefix(name, "e_recall@") && !strings.HasPrefix(name, "c_recall@") {
			return metric{}, false, nil
		}
		k, ok := positiveInt(name[len("e_recall@"):])
		if !ok {
			return metric{}, true, errK
		}
		return metric{
			cosine:     name[0] == 'c',
			neighbours: func([]int64) int { return k },
			value:      func(in *inputs) (float64, error) { return RecallAtK(in.nn, in.labels, k), nil },
		}, true, nil
	},
}

// RecallAtK is the fraction of queries with at least one same-label sample among their
// first k neighbours (k is clipped to the neighbours available).
func RecallAtK(nn Neighbours, labels []int64, k int) float64 {
	k = min(k, nn.K)
	hits := 0
	for i, y := range labels {
		row := nn.Idx[i*nn.K : i*nn.K+k]
		for _, j := range row {
			if labels[j] == y {
				hits++
				break
			}
		}
	}
	return float64(hits) / float64(len(labels))
}
