package criteria

import (
	"math"

	"dmlrun/stage"
	"dmlrun/torch"
	"dmlrun/torch/optim"
)

// classMap draws the C x D class weights of softmax and arcface as the original:
// uniform_(−1/√D, 1/√D) on the CPU generator.
func classMap(D, C int, dev torch.Device) param {
	return param{"class_map", place(uniformInit([]int64{int64(C), int64(D)}, 1/math.Sqrt(float64(D))), dev)}
}

// softmax is the original's normalised softmax (reference §5.7):
// CE(x · n(W)ᵀ / T, y), x not re-normalised.
type softmax struct {
	w     param
	lr, t float64
}

func newSoftmax(p stage.Params, D, C int, o options) (*softmax, error) {
	return &softmax{w: classMap(D, C, o.dev), lr: p.Float("lr"), t: p.Float("temperature")}, nil
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

// arcFace is the original's ArcFace (reference §5.8) with its clamp kept (§14.12):
//
//	cos = clamp(x · n(W)ᵀ, 1e−10, 1 − 1e−10)     (the upper bound rounds to 1 in float32)
//	θ   = acos(cos_{i,y_i});  logits = s · (cos + onehot · (cos(θ + m) − cos_{i,y_i}))
//	L   = CE(logits, y)
type arcFace struct {
	w        param
	lr, m, s float64
}

func newArcFace(p stage.Params, D, C int, o options) (*arcFace, error) {
	return &arcFace{w: classMap(D, C, o.dev), lr: p.Float("lr"), m: p.Float("angular_margin"), s: p.Float("feature_scale")}, nil
}

func (c *arcFace) Loss(b Batch) *torch.Tensor {
	cos := b.Embeds.Mm(c.w.t.Normalize(2, 1, normEps).T()).Clamp(1e-10, 1-1e-10)
	nc := c.w.t.Size(0)
	classes := torch.Arange(0, float64(nc), 1, torch.Int64, b.Labels.Device())
	pick := b.Labels.Unsqueeze(1).Eq(classes.Unsqueeze(0)).ToDType(cos.DType())
	orig := cos.Gather(1, b.Labels.Unsqueeze(1)) // [B, 1]
	marg := orig.Acos().AddScalar(c.m).Cos()
	logits := cos.Add(pick.Mul(marg.Sub(orig))).MulScalar(c.s)
	return torch.CrossEntropy(logits, b.Labels)
}

func (c *arcFace) Groups(float64) []optim.Group {
	return []optim.Group{{Name: "arcface.class_map", Params: []*torch.Tensor{c.w.t}, LR: c.lr}}
}
func (c *arcFace) Named() ([]string, []*torch.Tensor) { return named([]param{c.w}) }
func (c *arcFace) Close()                             { closeParams([]param{c.w}) }
