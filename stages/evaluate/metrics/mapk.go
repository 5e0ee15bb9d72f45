package metrics

import "strings"

var mapKMetric = Metric{
	Names:   []string{"mAP_K", "c_mAP_K"},
	Param:   "K",
	Summary: "mAP_K (e.g. mAP_1000), c_mAP_K",
	Doc: "The original's mAP_1000 for K = 1000: average precision over the first K neighbours, divided by the " +
		"size of the query's class (query included, so it never reaches 1), averaged over queries. c_mAP_K uses " +
		"cosine neighbours and is reported under its own name (the original reports it as mAP_1000). On a set of K " +
		"images or fewer dmlrun cuts the list to the N−1 real neighbours; the original's faiss pads it with index −1, " +
		"which it counts as the class of the last image, so its number differs (and can exceed 1 for that class): " +
		"the evaluate block's faiss_padding = true reproduces it, for comparisons with the original's logs.",
	Examples: []string{"mAP_1000", "c_mAP_1000"},
	parse: func(name string) (metric, bool, error) {
		rest, cosine := cosinePrefix(name)
		v, ok := strings.CutPrefix(rest, "mAP_")
		if !ok {
			return metric{}, false, nil
		}
		k, ok := positiveInt(v)
		if !ok {
			return metric{}, true, errK
		}
		return metric{
			cosine:     cosine,
			neighbours: func([]int64) int { return k },
			value:      func(in *inputs) (float64, error) { return MAPAtK(in.nn, in.labels, k), nil },
		}, true, nil
	},
}

// MAPAtK is the original's mAP_1000 for k = 1000: AP_i = (1/N_y) Σ_{r≤k} rel_r·prec@r with
// N_y the size of the query's class in the evaluated set, query included (so it never
// reaches 1 exactly), averaged over queries. k is clipped to the neighbours available: the
// lists Compute makes have N−1 entries on a set of N <= k rows, unless Options.FaissPadding
// padded them the original's way.
func MAPAtK(nn Neighbours, labels []int64, k int) float64 {
	k = min(k, nn.K)
	sizes := classSizes(labels)
	var sum float64
	for i, y := range labels {
		row := nn.Idx[i*nn.K : i*nn.K+k]
		var ap float64
		hits := 0
		for r, j := range row {
			if labels[j] == y {
				hits++
				ap += float64(hits) / float64(r+1)
			}
		}
		sum += ap / float64(sizes[y])
	}
	return sum / float64(len(labels))
}
