package criteria

import (
	"dmlrun/stages/train/miners"
	"dmlrun/torch"
	"dmlrun/torch/optim"
)

var tripletLoss = Define(Spec[tripletParams]{
	Name:         "triplet",
	Aliases:      []string{"tripletloss", "triplet_loss"},
	Doc:          "Triplet loss on squared distances of mined triplets.",
	Defaults:     tripletParams{Margin: 0.2},
	NeedsMiner:   true,
	SubCriterion: true,
	New: func(p *tripletParams, env Env) (Criterion, error) {
		return &triplet{margin: p.Margin, miner: env.Miner}, nil
	},
})

type tripletParams struct {
	Margin float64 `param:"margin" doc:"Margin on squared distances (loss_triplet_margin)."`
}

// triplet is the original's triplet loss (reference §5.5): mean over mined triplets of
// relu(|x_a − x_p|² − |x_a − x_n|² + margin), squared distances. No parameters. No
// triplets: a zero that backpropagates (the original raises).
type triplet struct {
	margin float64
	miner  miners.Miner
}

func (c *triplet) Loss(b Batch) *torch.Tensor {
	trip, _ := mine(c.miner, b)
	x := b.Embeds
	if len(trip) == 0 {
		return zeroLike(x)
	}
	a, p, n := tripletIndex(trip, x.Device())
	xa := x.Index(a)
	dap := xa.Sub(x.Index(p)).PowScalar(2).SumDim([]int64{1}, false)
	dan := xa.Sub(x.Index(n)).PowScalar(2).SumDim([]int64{1}, false)
	return dap.Sub(dan).AddScalar(c.margin).Relu().Mean()
}

func (c *triplet) Groups(float64) []optim.Group       { return nil }
func (c *triplet) Named() ([]string, []*torch.Tensor) { return nil, nil }
func (c *triplet) Close()                             {}
