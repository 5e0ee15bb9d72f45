package criteria

import (
	"fmt"
	"math"

	"dmlrun/stage"
	"dmlrun/stages/nir"
	"dmlrun/torch"
	"dmlrun/torch/optim"
)

// multiSimilarity is the original's multisimilarity criterion (reference §5.3) with its
// oddity kept: softplus of the batch mean of the masked log-sum-exp terms, scaled by 1/|α|
// and 1/|β| (§14.10). No parameters. With S = X Xᵀ (embeddings as given), P = same class
// without the diagonal, N = other class, reducing over dim d:
//
//	posbound = min_{P} S (missing: +max of S's dtype),  negbound = max_{N} S (missing: -max)
//	P' = P ∧ (S − ε < negbound),  N' = N ∧ (S + ε > posbound)
//	L  = softplus(mean MLSE(−α(S − λp), P', d)) / |α| + softplus(mean MLSE(β(S − λn), N', d)) / |β|
type multiSimilarity struct {
	dim                  int64
	alpha, beta, eps     float64
	posThresh, negThresh float64
}

func newMultiSimilarity(p stage.Params) (*multiSimilarity, error) {
	d := p.Int("dim")
	if d != 0 && d != 1 {
		return nil, fmt.Errorf("dim = %d: must be 0 or 1", d)
	}
	return &multiSimilarity{dim: d, alpha: p.Float("pos_weight"), beta: p.Float("neg_weight"), eps: p.Float("margin"),
		posThresh: p.Float("pos_thresh"), negThresh: p.Float("neg_thresh")}, nil
}

func (c *multiSimilarity) Loss(b Batch) *torch.Tensor {
	x := b.Embeds
	s := x.Mm(x.T())
	n := x.Size(0)
	lab := b.Labels
	same := lab.Unsqueeze(1).Eq(lab.Unsqueeze(0))
	idx := torch.Arange(0, float64(n), 1, torch.Int64, lab.Device())
	offDiag := idx.Unsqueeze(1).Ne(idx.Unsqueeze(0))
	pos := same.LogicalAnd(offDiag)
	neg := same.LogicalNot()

	var posMined, negMined *torch.Tensor
	torch.NoGrad(func() {
		sd := s.Detach()
		// ±torch.finfo(S.dtype).max of S's own dtype (float16/bfloat16 under autocast).
		big := nir.FloatMax(sd.DType())
		posBound, _ := sd.MaskedFill(pos.LogicalNot(), big).MinDim(c.dim, true)
		negBound, _ := sd.MaskedFill(neg.LogicalNot(), -big).MaxDim(c.dim, true)
		posMined = pos.LogicalAnd(sd.SubScalar(c.eps).Lt(negBound))
		negMined = neg.LogicalAnd(sd.AddScalar(c.eps).Gt(posBound))
	})
	posTerm := nir.MaskedLogSumExp(s.SubScalar(c.posThresh).MulScalar(-c.alpha), posMined, c.dim).Mean()
	negTerm := nir.MaskedLogSumExp(s.SubScalar(c.negThresh).MulScalar(c.beta), negMined, c.dim).Mean()
	return posTerm.Softplus().MulScalar(1 / math.Abs(c.alpha)).Add(negTerm.Softplus().MulScalar(1 / math.Abs(c.beta)))
}

func (c *multiSimilarity) Groups(float64) []optim.Group       { return nil }
func (c *multiSimilarity) Named() ([]string, []*torch.Tensor) { return nil, nil }
func (c *multiSimilarity) Close()                             {}
