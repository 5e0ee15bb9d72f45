package miners

import (
	"sort"

	"dmlrun/torch"
)

var npairMiner = Define(Spec[struct{}]{
	Name:    "npair",
	Aliases: []string{"n_pair", "n-pair"},
	Doc:     "One (anchor, positive) pair per class, each pair's negatives the other pairs' positives (for the npair loss; dmlrun's fix, the original has none).",
	New: func(_ *struct{}, src Sources) (Miner, error) {
		if err := needNumPy(src); err != nil {
			return nil, err
		}
		return &NPair{rng: src.NumPy}, nil
	},
})

// NPair builds N-pair tuples (Sohn 2016): one (anchor, positive) pair per class that has at
// least two samples in the batch, and for each pair the positives of all other pairs as its
// negatives. It returns them as triplets (a, p, n), one per negative, grouped by pair in
// ascending class order (the npair criterion regroups consecutive triplets with the same
// (a, p)). Per class the anchor is drawn uniformly among its samples and the positive
// uniformly among the rest, both from the NumPy generator.
//
// The original's `--loss npair` asks for an `npair` batchminer its batchminer/ folder does
// not have (reference §5.9, §14.11); this miner is dmlrun's fix, not a port.
type NPair struct {
	rng *NumpyRandom
}

// Mine implements Miner. A batch with fewer than two classes that have pairs gives none.
func (m *NPair) Mine(emb *torch.Tensor, labels []int64) [][3]int {
	checkBatch("npair", emb, labels)
	byClass := map[int64][]int{}
	for i, l := range labels {
		byClass[l] = append(byClass[l], i)
	}
	classes := make([]int64, 0, len(byClass))
	for c, idx := range byClass {
		if len(idx) >= 2 {
			classes = append(classes, c)
		}
	}
	sort.Slice(classes, func(i, j int) bool { return classes[i] < classes[j] })
	pairs := make([][2]int, 0, len(classes))
	for _, c := range classes {
		idx := byClass[c]
		ai := m.rng.Choice(len(idx))
		rest := make([]int, 0, len(idx)-1)
		for k, v := range idx {
			if k != ai {
				rest = append(rest, v)
			}
		}
		pairs = append(pairs, [2]int{idx[ai], rest[m.rng.Choice(len(rest))]})
	}
	var out [][3]int
	for k, pk := range pairs {
		for j, pj := range pairs {
			if j != k {
				out = append(out, [3]int{pk[0], pk[1], pj[1]})
			}
		}
	}
	return out
}
