package miners

import (
	"fmt"
	"sort"

	"dmlrun/rng"
	"dmlrun/torch"
)

var randomMiner = Define(Spec[struct{}]{
	Name: "random",
	Doc:  "B triplets sampled uniformly from all valid ones with CPython's random.sample, on the batch sampler's generator as in the original.",
	New: func(_ *struct{}, src Sources) (Miner, error) {
		if src.Python == nil {
			return nil, fmt.Errorf("needs a Python random source (miners.WithPython, Sources.Python), the generator the batch sampler uses")
		}
		return &Random{py: src.Python}, nil
	},
})

// Random is the original's "random" miner (reference §7): it enumerates every triplet
// (a, p, n) with y_a = y_p, a ≠ p, y_n ≠ y_a — classes in ascending label order, for each
// class every other class in ascending order, then the index product in ascending order —
// and keeps random.sample(triplets, B) drawn from CPython's random module.
//
// Deviation: when fewer than B triplets exist it returns random.sample(triplets, all) (a
// permutation of them) instead of raising ValueError as the original does.
type Random struct {
	py PyRandom
}

// Mine implements Miner.
func (m *Random) Mine(emb *torch.Tensor, labels []int64) [][3]int {
	checkBatch("random", emb, labels)
	byClass := map[int64][]int{}
	for i, l := range labels {
		byClass[l] = append(byClass[l], i)
	}
	classes := make([]int64, 0, len(byClass))
	for c := range byClass {
		classes = append(classes, c)
	}
	sort.Slice(classes, func(i, j int) bool { return classes[i] < classes[j] })
	var all [][3]int
	for _, x := range classes {
		for _, y := range classes {
			if x == y {
				continue
			}
			for _, a := range byClass[x] {
				for _, p := range byClass[x] {
					if a == p {
						continue
					}
					for _, n := range byClass[y] {
						all = append(all, [3]int{a, p, n})
					}
				}
			}
		}
	}
	k := min(len(labels), len(all))
	out := make([][3]int, k)
	for i, j := range rng.Sample(m.py, len(all), k) {
		out[i] = all[j]
	}
	return out
}
