package miners

import (
	"dmlrun/torch"
)

var softhardMiner = Define(Spec[struct{}]{
	Name:    "softhard",
	Aliases: []string{"soft_hard", "soft-hard"},
	Doc:     "A random hard positive (farther than the nearest negative) and a random hard negative (nearer than the farthest positive).",
	New: func(_ *struct{}, src Sources) (Miner, error) {
		if err := needNumPy(src); err != nil {
			return nil, err
		}
		return &Softhard{rng: src.NumPy}, nil
	},
})

// Softhard is the original's "softhard" miner (reference §7): anchors with another
// same-class sample; hard positives are same-class samples farther than the nearest
// negative, hard negatives other-class samples nearer than the farthest positive; the
// positive is drawn uniformly from the hard positives (all positives if none), then the
// negative likewise.
//
// Deviation: an anchor without any negative yields no triplet (the original raises).
type Softhard struct {
	rng *NumpyRandom
}

// Mine implements Miner.
func (m *Softhard) Mine(emb *torch.Tensor, labels []int64) [][3]int {
	checkBatch("softhard", emb, labels)
	var dist [][]float32
	s := torch.NewScope()
	torch.NoGrad(func() { dist = rows(pdist(emb, 0)) })
	s.Close()
	var out [][3]int
	for i, l := range labels {
		d := dist[i]
		pos := where(labels, l, true, i)
		neg := where(labels, l, false, -1)
		if len(pos) == 0 || len(neg) == 0 {
			continue
		}
		maxPos, minNeg := d[pos[0]], d[neg[0]]
		for _, j := range pos {
			maxPos = max(maxPos, d[j])
		}
		for _, j := range neg {
			minNeg = min(minNeg, d[j])
		}
		var hardPos, hardNeg []int
		for _, j := range pos {
			if d[j] > minNeg {
				hardPos = append(hardPos, j)
			}
		}
		for _, j := range neg {
			if d[j] < maxPos {
				hardNeg = append(hardNeg, j)
			}
		}
		if len(hardPos) == 0 {
			hardPos = pos
		}
		if len(hardNeg) == 0 {
			hardNeg = neg
		}
		p := hardPos[m.rng.Choice(len(hardPos))]
		n := hardNeg[m.rng.Choice(len(hardNeg))]
		out = append(out, [3]int{i, p, n})
	}
	return out
}
