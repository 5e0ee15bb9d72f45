package criteria

import (
	"dmlrun/torch"
	"dmlrun/torch/optim"
)

var softmaxLoss = Define(Spec[softmaxParams]{
	Name:         "softmax",
	Aliases:      []string{"normsoftmax", "norm_softmax", "normalized_softmax", "normalised_softmax"},
	Doc:          "Normalised softmax (NormFace-like): cross-entropy over the embeddings' products with the L2-normalised class weights, divided by a temperature.",
	Defaults:     softmaxParams{LR: 1e-5, Temperature: 0.05},
	SubCriterion: true,
	New:          newSoftmax,
})

type softmaxParams struct {
	LR          float64 `param:"lr" above:"0" doc:"Learning rate of the class weights (loss_softmax_lr)."`
	Temperature float64 `param:"temperature" above:"0" doc:"Softmax temperature T (loss_softmax_temperature)."`
}

// softmax is the original's normalised softmax (reference §5.7):
// CE(x · n(W)ᵀ / T, y), x not re-normalised.
type softmax struct {
	w     param
	lr, t float64
}

func newSoftmax(p *softmaxParams, env Env) (Criterion, error) {
	return &softmax{w: classMap(env.D, env.C, env.Device), lr: p.LR, t: p.Temperature}, nil
}

func (c *softmax) Loss(b Batch) *torch.Tensor {
	logits := torch.Linear(b.Embeds, c.w.t.Normalize(2, 1, normEps), nil).DivScalar(c.t)
	return torch.CrossEntropy(logits, b.Labels)
}

func (c *softmax) Groups(float64) []optim.Group {
	return []optim.Group{{Name: "softmax.class_map", Params: []*torch.Tensor{c.w.t}, LR: c.lr}}
}
func (c *softmax) Named() ([]string, []*torch.Tensor) { return named([]param{c.w}) }
func (c *softmax) Close()                             { closeParams([]param{c.w}) }
