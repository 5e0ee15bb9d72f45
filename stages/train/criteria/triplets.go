package criteria

import (
	"dmlrun/stage"
	"dmlrun/stages/train/miners"
	"dmlrun/torch"
	"dmlrun/torch/optim"
)

// mine runs the miner on the batch (it reads the embeddings without autograd) and returns
// the triplets with the labels as Go values.
func mine(m miners.Miner, b Batch) (trip [][3]int, labels []int64) {
	labels = cpuLabels(b.Labels)
	return m.Mine(b.Embeds, labels), labels
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

func newMargin(p stage.Params, C int, miner miners.Miner, o options) (*margin, error) {
	c := &margin{m: p.Float("margin"), nu: p.Float("nu"), betaLR: p.Float("beta_lr"), miner: miner}
	if p.Bool("beta_constant") {
		c.betaConst = p.Float("beta")
		return c, nil
	}
	beta := torch.Full([]int64{int64(C)}, p.Float("beta"), torch.Float32, torch.CPUDevice)
	c.beta = &param{"beta", place(beta, o.dev)}
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
