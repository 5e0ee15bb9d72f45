package miners

import (
	"dmlrun/torch"
)

var rhoDistanceMiner = Define(Spec[rhoDistanceParams]{
	Name:     "rho_distance",
	Aliases:  []string{"rhodistance", "rho"},
	Doc:      "Distance-weighted sampling that, with probability cp, instead pushes a same-class sample away from the anchor (the original's rho_distance).",
	Defaults: rhoDistanceParams{LowerCutoff: 0.5, UpperCutoff: 1.4, CP: 0.2},
	New: func(c *rhoDistanceParams, src Sources) (Miner, error) {
		if err := needNumPy(src); err != nil {
			return nil, err
		}
		return &RhoDistance{LowerCutoff: c.LowerCutoff, CP: c.CP, rng: src.NumPy}, nil
	},
})

type rhoDistanceParams struct {
	LowerCutoff float64 `param:"lower_cutoff" doc:"Distances are clamped from below to this value (miner_rho_distance_lower_cutoff)."`
	UpperCutoff float64 `param:"upper_cutoff" doc:"Accepted for compatibility; unused, as in the original (miner_rho_distance_upper_cutoff)."`
	CP          float64 `param:"cp" min:"0" max:"1" doc:"Probability of a (i, i, same-class j) triplet that pushes a positive away (miner_rho_distance_cp)."`
}

// RhoDistance is the original's "rho_distance" miner (reference §7): for every anchor i a
// Bernoulli(CP) draw (np.random.choice(2, p=[1−cp, cp]), made for every i); anchors whose
// class has another sample in the batch then give either (i, i, j) with j a uniformly drawn
// *same-class* sample (CP branch, pushing a positive away), or a uniformly drawn positive
// followed by a distance-weighted negative as in Distance. Distances are
// sqrt(clamp(., min 1e-4)) clamped below at LowerCutoff.
//
// Deviation: as Distance, no negative available means no triplet for that anchor.
type RhoDistance struct {
	LowerCutoff float64
	CP          float64
	rng         *NumpyRandom
}

// Mine implements Miner.
func (m *RhoDistance) Mine(emb *torch.Tensor, labels []int64) [][3]int {
	checkBatch("rho_distance", emb, labels)
	var out [][3]int
	s := torch.NewScope()
	defer s.Close()
	torch.NoGrad(func() {
		d := pdist(emb, 1e-4).ClampMin(m.LowerCutoff)
		q := inverseSphere(d, labels, emb.Size(1))
		pc := []float64{1 - m.CP, m.CP}
		for i, l := range labels {
			useContr := m.rng.ChoiceP(pc) == 1
			others := where(labels, l, true, i)
			if len(others) == 0 {
				continue
			}
			if useContr {
				out = append(out, [3]int{i, i, others[m.rng.Choice(len(others))]})
				continue
			}
			p := others[m.rng.Choice(len(others))]
			if n := m.rng.ChoiceP(q[i]); n >= 0 {
				out = append(out, [3]int{i, p, n})
			}
		}
	})
	return out
}
