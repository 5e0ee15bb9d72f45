package miners

import (
	"dmlrun/torch"
)

// Semihard is the original's "semihard" miner (reference §7): for every anchor i a positive
// p uniformly among the other samples of its class, then a negative uniformly among those
// with d_ip < d_in < d_ip + Margin, or among all negatives when that window is empty.
// Distances are float32 as in the original (NumPy compares the float32 matrix with the
// float64 bound d_ip + margin rounded to float32).
//
// Deviation: anchors without another same-class sample or without any negative yield no
// triplet (the original raises in np.random.choice).
type Semihard struct {
	Margin float64
	rng    *NumpyRandom
}

// Mine implements Miner.
func (m *Semihard) Mine(emb *torch.Tensor, labels []int64) [][3]int {
	checkBatch("semihard", emb, labels)
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
		p := pos[m.rng.Choice(len(pos))]
		hi := float32(m.Margin + float64(d[p]))
		var window []int
		for _, j := range neg {
			if d[j] > d[p] && d[j] < hi {
				window = append(window, j)
			}
		}
		if len(window) == 0 {
			window = neg
		}
		out = append(out, [3]int{i, p, window[m.rng.Choice(len(window))]})
	}
	return out
}

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
