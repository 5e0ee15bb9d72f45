package miners

import (
	"dmlrun/torch"
)

var semihardMiner = Define(Spec[semihardParams]{
	Name:     "semihard",
	Aliases:  []string{"semi_hard", "semi-hard"},
	Doc:      "A random positive, then a random negative farther than it but within margin (FaceNet's semihard window; all negatives when the window is empty).",
	Defaults: semihardParams{Margin: 0.2},
	New: func(c *semihardParams, src Sources) (Miner, error) {
		if err := needNumPy(src); err != nil {
			return nil, err
		}
		return &Semihard{Margin: c.Margin, rng: src.NumPy}, nil
	},
})

type semihardParams struct {
	Margin float64 `param:"margin" doc:"Semihard window: negatives with d_ap < d_an < d_ap + margin (miner_semihard_margin)."`
}

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
