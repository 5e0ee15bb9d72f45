package miners

import (
	"dmlrun/torch"
)

var distanceMiner = Define(Spec[distanceParams]{
	Name:     "distance",
	Aliases:  []string{"distance_weighted", "distanceweighted"},
	Doc:      "Distance-weighted sampling (Wu et al. 2017), the original's default: a negative drawn by the inverse-sphere density of its distance, then a random positive.",
	Defaults: distanceParams{LowerCutoff: 0.5, UpperCutoff: 1.4},
	New: func(c *distanceParams, src Sources) (Miner, error) {
		if err := needNumPy(src); err != nil {
			return nil, err
		}
		return &Distance{LowerCutoff: c.LowerCutoff, rng: src.NumPy}, nil
	},
})

type distanceParams struct {
	LowerCutoff float64 `param:"lower_cutoff" doc:"Distances are clamped from below to this value before the inverse-sphere density (miner_distance_lower_cutoff)."`
	UpperCutoff float64 `param:"upper_cutoff" doc:"Accepted for compatibility; unused, as in the original (miner_distance_upper_cutoff)."`
}

// Distance is the original's default "distance" miner (distance-weighted sampling, Wu et
// al. 2017; reference §7): for every anchor i a negative is drawn with probability
// q_j ∝ exp(log w_j − max log w) where
//
//	log w_j = (2 − D) ln d_ij − ((D − 3)/2) ln(1 − d_ij²/4),  d clamped below at LowerCutoff,
//
// zero for same-class j (i included), then a positive uniformly among the other samples of
// i's class (i itself if it is alone). The negative is drawn before the positive.
//
// Deviation: an anchor without any other-class sample in the batch yields no triplet (the
// original raises inside np.random.choice on NaN probabilities).
type Distance struct {
	LowerCutoff float64
	rng         *NumpyRandom
}

// Mine implements Miner.
func (m *Distance) Mine(emb *torch.Tensor, labels []int64) [][3]int {
	checkBatch("distance", emb, labels)
	var out [][3]int
	s := torch.NewScope()
	defer s.Close()
	torch.NoGrad(func() {
		d := pdist(emb, 0).ClampMin(m.LowerCutoff)
		q := inverseSphere(d, labels, emb.Size(1))
		for i, l := range labels {
			neg := m.rng.ChoiceP(q[i])
			if neg < 0 {
				continue
			}
			pos := where(labels, l, true, -1)
			if len(pos) > 1 {
				pos = where(labels, l, true, i)
			}
			out = append(out, [3]int{i, pos[m.rng.Choice(len(pos))], neg})
		}
	})
	return out
}

// inverseSphere computes, per anchor row, the original's inverse_sphere_distances with the
// same libtorch operations and float32 rounding (elementwise and max exactly; the row sum on
// a 1-D row as the original), and returns the probabilities widened to float64 as NumPy
// does. Rows with no other-class sample come back all zero (NaN in the original).
func inverseSphere(d *torch.Tensor, labels []int64, dim int64) [][]float64 {
	lab, err := torch.FromInt64(labels, int64(len(labels)))
	if err != nil {
		panic(&torch.Error{Op: "miners: labels", Msg: err.Error()})
	}
	lab = lab.To(d.Device())
	same := lab.Unsqueeze(1).Eq(lab.Unsqueeze(0))
	fd := float64(dim)
	logq := d.Log().MulScalar(2.0 - fd).Sub(d.PowScalar(2).MulScalar(0.25).RSubScalar(1.0).Log().MulScalar(float64(dim-3) / 2))
	logq = logq.MaskedFill(same, 0)
	mx, _ := logq.MaxDim(1, true)
	q := logq.Sub(mx).Exp().MaskedFill(same, 0)
	b := int64(len(labels))
	out := make([][]float64, b)
	for i := int64(0); i < b; i++ {
		row := q.Select(0, i)
		row = row.Div(row.Sum())
		v, err := row.Float32s()
		if err != nil {
			panic(&torch.Error{Op: "miners: read probabilities", Msg: err.Error()})
		}
		out[i] = make([]float64, len(v))
		for j, x := range v {
			out[i][j] = float64(x)
		}
	}
	return out
}
