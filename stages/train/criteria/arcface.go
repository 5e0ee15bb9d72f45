package criteria

import (
	"dmlrun/torch"
	"dmlrun/torch/optim"
)

var arcFaceLoss = Define(Spec[arcFaceParams]{
	Name:         "arcface",
	Aliases:      []string{"arc_face", "arc-face", "additive_angular_margin"},
	Doc:          "ArcFace (Deng et al. 2019): an additive angular margin on the true class's angle, with the original's clamp kept.",
	Defaults:     arcFaceParams{LR: 5e-4, AngularMargin: 0.5, FeatureScale: 16},
	SubCriterion: true,
	New:          newArcFace,
})

type arcFaceParams struct {
	LR            float64 `param:"lr" above:"0" doc:"Learning rate of the class weights (loss_arcface_lr)."`
	AngularMargin float64 `param:"angular_margin" doc:"Additive angular margin m in radians (loss_arcface_angular_margin)."`
	FeatureScale  float64 `param:"feature_scale" above:"0" doc:"Logit scale s (loss_arcface_feature_scale)."`
}

// arcFace is the original's ArcFace (reference §5.8) with its clamp kept (§14.12):
//
//	cos = clamp(x · n(W)ᵀ, 1e−10, 1 − 1e−10)     (the upper bound rounds to 1 in float32)
//	θ   = acos(cos_{i,y_i});  logits = s · (cos + onehot · (cos(θ + m) − cos_{i,y_i}))
//	L   = CE(logits, y)
type arcFace struct {
	w        param
	lr, m, s float64
}

func newArcFace(p *arcFaceParams, env Env) (Criterion, error) {
	return &arcFace{w: classMap(env.D, env.C, env.Device), lr: p.LR, m: p.AngularMargin, s: p.FeatureScale}, nil
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
