package criteria

import (
	"dmlrun/stages/train/miners"
	"dmlrun/torch"
	"dmlrun/torch/optim"
)

var marginLoss = Define(Spec[marginParams]{
	Name:         "margin",
	Aliases:      []string{"marginloss", "margin_loss"},
	Doc:          "Margin loss (Wu et al. 2017) on mined triplets with a learned per-class boundary beta; nu != 0 adds the paper's beta regulariser (the original crashes there).",
	Defaults:     marginParams{Margin: 0.2, BetaLR: 5e-4, Beta: 1.2, Nu: 0, BetaConstant: false},
	NeedsMiner:   true,
	SubCriterion: true,
	New:          newMargin,
})

type marginParams struct {
	Margin       float64 `param:"margin" doc:"Margin m around the class boundary beta (loss_margin_margin)."`
	BetaLR       float64 `param:"beta_lr" above:"0" doc:"Learning rate of the per-class beta (loss_margin_beta_lr)."`
	Beta         float64 `param:"beta" doc:"Initial beta (loss_margin_beta)."`
	Nu           float64 `param:"nu" doc:"Weight of the beta regulariser nu * sum of the triplets' beta (loss_margin_nu; crashes in the original, works here)."`
	BetaConstant bool    `param:"beta_constant" doc:"Keep beta a fixed scalar instead of a trainable per-class vector (loss_margin_beta_constant)."`
}

// margin is the original's margin loss (Wu et al. 2017; reference §5.4): per-class β of the
// anchor's class, d = sqrt(|x_a − x_·|² + 1e-8),
//
//	ℓ+ = relu(d_ap − β + m),  ℓ− = relu(β − d_an + m),
//	L  = Σ(ℓ+ + ℓ−) / #{triplets with ℓ+ > 0 or ℓ− > 0}   (plain Σ if that is 0)
//	     + ν Σ_triplets β_{y_a}
//
// The count is the original's torch.sum((ℓ+ > 0) + (ℓ− > 0)): adding two bool tensors is a
// logical or in PyTorch, so a triplet with both terms active counts once. The ν term is
// the original's intent (its code references an undefined name and crashes for ν ≠ 0,
// §14.11) and the margin-loss paper's β regulariser. No triplets: a zero that
// backpropagates (the original returns a constant whose backward raises).
type margin struct {
	m, nu, betaLR float64
	beta          *param // nil when beta_constant
	betaConst     float64
	miner         miners.Miner
}

func newMargin(p *marginParams, env Env) (Criterion, error) {
	c := &margin{m: p.Margin, nu: p.Nu, betaLR: p.BetaLR, miner: env.Miner}
	if p.BetaConstant {
		c.betaConst = p.Beta
		return c, nil
	}
	beta := torch.Full([]int64{int64(env.C)}, p.Beta, torch.Float32, torch.CPUDevice)
	c.beta = &param{"beta", place(beta, env.Device)}
	return c, nil
}

func (c *margin) Loss(b Batch) *torch.Tensor {
	trip, labels := mine(c.miner, b)
	x := b.Embeds
	if len(trip) == 0 {
		return zeroLike(x)
	}
	a, p, n := tripletIndex(trip, x.Device())
	xa := x.Index(a)
	dap := xa.Sub(x.Index(p)).PowScalar(2).SumDim([]int64{1}, false).AddScalar(1e-8).PowScalar(0.5)
	dan := xa.Sub(x.Index(n)).PowScalar(2).SumDim([]int64{1}, false).AddScalar(1e-8).PowScalar(0.5)
	var posL, negL, betaSum *torch.Tensor
	if c.beta != nil {
		ya := make([]int64, len(trip))
		for k, t := range trip {
			ya[k] = labels[t[0]]
		}
		beta := c.beta.t.Index(indexTensor(ya, x.Device()))
		posL = dap.Sub(beta).AddScalar(c.m).Relu()
		negL = beta.Sub(dan).AddScalar(c.m).Relu()
		betaSum = beta.Sum()
	} else {
		posL = dap.SubScalar(c.betaConst).AddScalar(c.m).Relu()
		negL = dan.RSubScalar(c.betaConst).AddScalar(c.m).Relu()
	}
	var count float64
	torch.NoGrad(func() {
		count = posL.GtScalar(0).LogicalOr(negL.GtScalar(0)).ToDType(torch.Float32).Sum().Item()
	})
	loss := posL.Add(negL).Sum()
	if count != 0 {
		loss = loss.DivScalar(count)
	}
	if c.nu != 0 {
		if betaSum != nil {
			loss = loss.Add(betaSum.MulScalar(c.nu))
		} else {
			loss = loss.AddScalar(c.nu * c.betaConst * float64(len(trip)))
		}
	}
	return loss
}

func (c *margin) Groups(baseLR float64) []optim.Group {
	if c.beta == nil {
		return nil
	}
	return []optim.Group{{Name: "margin.beta", Params: []*torch.Tensor{c.beta.t}, LR: c.betaLR}}
}

func (c *margin) params() []param {
	if c.beta == nil {
		return nil
	}
	return []param{*c.beta}
}
func (c *margin) Named() ([]string, []*torch.Tensor) { return named(c.params()) }
func (c *margin) Close()                             { closeParams(c.params()) }
