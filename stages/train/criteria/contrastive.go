package criteria

import (
	"dmlrun/stages/train/miners"
	"dmlrun/torch"
	"dmlrun/torch/optim"
)

var contrastiveLoss = Define(Spec[contrastiveParams]{
	Name:         "contrastive",
	Aliases:      []string{"contrastiveloss", "contrastive_loss", "pairwise"},
	Doc:          "Contrastive loss on the mined triplets' positive and negative pairs.",
	Defaults:     contrastiveParams{PosMargin: 0, NegMargin: 1},
	NeedsMiner:   true,
	SubCriterion: true,
	New: func(p *contrastiveParams, env Env) (Criterion, error) {
		return &contrastive{posMargin: p.PosMargin, negMargin: p.NegMargin, miner: env.Miner}, nil
	},
})

type contrastiveParams struct {
	PosMargin float64 `param:"pos_margin" doc:"Positive margin (loss_contrastive_pos_margin)."`
	NegMargin float64 `param:"neg_margin" doc:"Negative margin (loss_contrastive_neg_margin)."`
}

// contrastive is the original's contrastive loss (reference §5.6) with PyTorch's
// PairwiseDistance (p = 2, eps 1e-6 added to the difference: |u − v + 1e-6|):
//
//	L = mean relu(d(a, p) − pos_margin) + mean relu(neg_margin − d(a, n))
type contrastive struct {
	posMargin, negMargin float64
	miner                miners.Miner
}

func (c *contrastive) Loss(b Batch) *torch.Tensor {
	trip, _ := mine(c.miner, b)
	x := b.Embeds
	if len(trip) == 0 {
		return zeroLike(x)
	}
	a, p, n := tripletIndex(trip, x.Device())
	xa := x.Index(a)
	dap := xa.Sub(x.Index(p)).AddScalar(1e-6).Norm(2, 1, false)
	dan := xa.Sub(x.Index(n)).AddScalar(1e-6).Norm(2, 1, false)
	return dap.SubScalar(c.posMargin).Relu().Mean().Add(dan.RSubScalar(c.negMargin).Relu().Mean())
}

func (c *contrastive) Groups(float64) []optim.Group       { return nil }
func (c *contrastive) Named() ([]string, []*torch.Tensor) { return nil, nil }
func (c *contrastive) Close()                             {}
