package criteria

import (
	"fmt"
	"math"

	"dmlrun/stage"
	"dmlrun/stages/nir"
	"dmlrun/torch"
	"dmlrun/torch/optim"
)

var multiSimilarityLoss = Define(Spec[multiSimilarityParams]{
	Name:         "multisimilarity",
	Aliases:      []string{"multi_similarity", "multi-similarity", "ms"},
	Doc:          "Multi-Similarity loss (Wang et al. 2019) with the original's oddity kept: softplus of the batch mean of the mined log-sum-exp terms.",
	Defaults:     multiSimilarityParams{Dim: 0, PosWeight: 2, NegWeight: 40, Margin: 0.1, PosThresh: 0.5, NegThresh: 0.5},
	SubCriterion: true,
	Check: func(p *multiSimilarityParams, _ TrainBlock) stage.Problems {
		var probs stage.Problems
		for _, w := range []struct {
			name string
			v    float64
		}{{"pos_weight", p.PosWeight}, {"neg_weight", p.NegWeight}} {
			if w.v == 0 {
				probs.Addf(w.name, "Value out of range", "%q must not be 0: the loss divides its term by |%s|.", w.name, w.name)
			}
		}
		return probs
	},
	New: newMultiSimilarity,
})

type multiSimilarityParams struct {
	Dim       int64   `param:"dim" min:"0" max:"1" doc:"Reduction dimension of the masked logsumexp, 0 or 1 (loss_multisimilarity_dim)."`
	PosWeight float64 `param:"pos_weight" doc:"alpha, the positive scale (loss_multisimilarity_pos_weight)."`
	NegWeight float64 `param:"neg_weight" doc:"beta, the negative scale (loss_multisimilarity_neg_weight)."`
	Margin    float64 `param:"margin" doc:"Mining margin epsilon (loss_multisimilarity_margin)."`
	PosThresh float64 `param:"pos_thresh" doc:"lambda of the positive term (loss_multisimilarity_pos_thresh)."`
	NegThresh float64 `param:"neg_thresh" doc:"lambda of the negative term (loss_multisimilarity_neg_thresh)."`
}

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

func newMultiSimilarity(p *multiSimilarityParams, _ Env) (Criterion, error) {
	if p.Dim != 0 && p.Dim != 1 {
		return nil, fmt.Errorf("dim = %d: must be 0 or 1", p.Dim)
	}
	if p.PosWeight == 0 || p.NegWeight == 0 {
		return nil, fmt.Errorf("pos_weight = %g, neg_weight = %g: the loss divides by both, so neither may be 0", p.PosWeight, p.NegWeight)
	}
	return &multiSimilarity{dim: p.Dim, alpha: p.PosWeight, beta: p.NegWeight, eps: p.Margin,
		posThresh: p.PosThresh, negThresh: p.NegThresh}, nil
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
