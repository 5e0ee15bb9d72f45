package criteria

import (
	"fmt"
	"strings"

	"dmlrun/stages/train/miners"
	"dmlrun/torch"
	"dmlrun/torch/optim"
)

var npairLoss = Define(Spec[npairParams]{
	Name:         "npair",
	Aliases:      []string{"n_pair", "n-pair", "npairs"},
	Doc:          "N-pair loss (Sohn 2016) on the npair batchminer's tuples, plus l2 times the mean embedding norm (the original asks for a miner it lacks).",
	Defaults:     npairParams{L2: 0.005},
	Miner:        "npair",
	SubCriterion: true,
	New: func(p *npairParams, env Env) (Criterion, error) {
		if _, ok := env.Miner.(*miners.NPair); !ok {
			return nil, fmt.Errorf("needs the npair batchminer (batch_mining = \"npair\"), got %T", env.Miner)
		}
		return &npair{l2: p.L2, quarter: strings.Contains(env.Arch, "bninception"), miner: env.Miner}, nil
	},
})

type npairParams struct {
	L2 float64 `param:"l2" doc:"Weight of the mean embedding norm (loss_npair_l2)."`
}

// npair is the N-pair loss (reference §5.9) on the npair miner's tuples: for each
// (anchor a, positive p, negatives N), averaged over the A anchors,
//
//	L = Σ_a log(1 + Σ_{n∈N} exp(x_aᵀ(x_n − x_p))) / A + l2 · mean_i |x_i|
//
// (the original adds l2·mean|x|/A once per anchor), with the batch divided by 4 first for
// bninception archs. The original's formula is kept; its missing miner is dmlrun's
// miners.NPair. No tuples: a zero that backpropagates.
type npair struct {
	l2      float64
	quarter bool
	miner   miners.Miner
}

func (c *npair) Loss(b Batch) *torch.Tensor {
	trip, _ := mine(c.miner, b)
	x := b.Embeds
	if c.quarter {
		x = x.DivScalar(4)
	}
	if len(trip) == 0 {
		return zeroLike(x)
	}
	type group struct {
		a, p int
		negs []int64
	}
	var groups []group
	for _, t := range trip {
		if k := len(groups) - 1; k >= 0 && groups[k].a == t[0] && groups[k].p == t[1] {
			groups[k].negs = append(groups[k].negs, int64(t[2]))
			continue
		}
		groups = append(groups, group{a: t[0], p: t[1], negs: []int64{int64(t[2])}})
	}
	nA := float64(len(groups))
	dev := x.Device()
	var loss *torch.Tensor
	l2 := x.Norm(2, 1, false).Mean().MulScalar(c.l2)
	for _, g := range groups {
		xa := x.Narrow(0, int64(g.a), 1)
		xp := x.Narrow(0, int64(g.p), 1)
		inner := xa.Mm(x.Index(indexTensor(g.negs, dev)).Sub(xp).T()) // [1, |N|]
		term := inner.Exp().SumDim([]int64{1}, false).AddScalar(1).Log().Mean().DivScalar(nA)
		term = term.Add(l2.DivScalar(nA))
		if loss == nil {
			loss = term
		} else {
			loss = loss.Add(term)
		}
	}
	return loss
}

func (c *npair) Groups(float64) []optim.Group       { return nil }
func (c *npair) Named() ([]string, []*torch.Tensor) { return nil, nil }
func (c *npair) Close()                             {}
