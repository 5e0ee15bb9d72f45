package criteria

import (
	"fmt"
	"strconv"

	"dmlrun/stage"
	"dmlrun/torch"
	"dmlrun/torch/optim"
)

var s2sdLoss = Define(Spec[s2sdParams]{
	Name:    "s2sd",
	Aliases: []string{"s2sd_distill", "simultaneous_similarity_distillation"},
	Doc:     "S2SD (Roth et al. 2021): a source criterion on the embeddings plus target criteria on wider auxiliary branches, distilled into the embedding (the intended maths; the original crashes).",
	Defaults: s2sdParams{Source: "multisimilarity", Target: "multisimilarity", T: 1, W: 0, PoolAggr: false,
		TargetDims: []int{1024, 1536, 2048}, FeatDistill: false, FeatW: 50, FeatDistillDelay: 1000},
	SubCriteria: []string{"source", "target"},
	Check: func(p *s2sdParams, _ TrainBlock) stage.Problems {
		var probs stage.Problems
		if len(p.TargetDims) == 0 {
			probs.Addf("target_dims", "Empty list", "\"target_dims\" must list at least one target branch width, e.g. [1024, 1536, 2048].")
		}
		return probs
	},
	New: newS2SD,
})

// s2sdParams' source and target are sub-criteria (Spec.SubCriteria): the table gives them
// the enum of its SubCriterion losses.
type s2sdParams struct {
	Source           string  `param:"source" doc:"Criterion on the (normalised) embeddings, with its default parameters (loss_s2sd_source)."`
	Target           string  `param:"target" doc:"Criterion of every target branch, with its default parameters (loss_s2sd_target)."`
	T                float64 `param:"T" above:"0" doc:"Distillation temperature (loss_s2sd_T)."`
	W                float64 `param:"w" doc:"Weight of the similarity distillation (loss_s2sd_w)."`
	PoolAggr         bool    `param:"pool_aggr" doc:"Target branches read global average + global max pooling of the feature map instead of the pooled features (loss_s2sd_pool_aggr)."`
	TargetDims       []int   `param:"target_dims" min:"1" doc:"Output widths of the target branches (loss_s2sd_target_dims)."`
	FeatDistill      bool    `param:"feat_distill" doc:"Also distil from the pooled features' similarities (loss_s2sd_feat_distill)."`
	FeatW            float64 `param:"feat_w" doc:"Weight of the feature distillation (loss_s2sd_feat_w)."`
	FeatDistillDelay int     `param:"feat_distill_delay" min:"0" doc:"Iterations before feature distillation starts (loss_s2sd_feat_distill_delay)."`
}

// s2sd is Simultaneous Similarity-based Self-Distillation (reference §5.10), written to the
// intended maths because the original crashes at construction (§14.11):
//
//	x̂ = n(x); L_src = source(x̂); S_src = x̂ x̂ᵀ
//	for each target dim t_k: y_k = n(W2 relu(W1 f + b1) + b2), L_k = target_k(y_k), S_k = y_k y_kᵀ
//	KL(A, B) = Σ softmax(B/T) (log softmax(B/T) − log_softmax(A/T)) · T² / rows  (B detached)
//	L = (mean_k L_k + L_src)/2 + w · mean_k KL(S_src, S_k)
//	    + feat_w · KL(S_src, S_f)   once Iter >= feat_distill_delay, if feat_distill
//
// with f = AvgFeatures (or global avg + max pool of Features with pool_aggr) and
// S_f = n(f)n(f)ᵀ detached. Sub-criteria use their kinds' default parameters, the target
// ones at embedding dimension t_k. Construction order on the torch generator: source
// criterion, target criteria in order, then the target branches in order (each Linear
// weight then bias).
type s2sd struct {
	source       Criterion
	targets      []Criterion
	nets         [][4]param // W1, b1, W2, b2 per branch
	t, w, featW  float64
	poolAggr     bool
	featDistill  bool
	featDelay    int
	featureWidth int
}

func newS2SD(p *s2sdParams, env Env) (Criterion, error) {
	c := &s2sd{t: p.T, w: p.W, featW: p.FeatW, poolAggr: p.PoolAggr,
		featDistill: p.FeatDistill, featDelay: p.FeatDistillDelay, featureWidth: env.FeatureDim}
	if !(c.t > 0) {
		return nil, fmt.Errorf("T = %g: the distillation temperature must be > 0", c.t)
	}
	if len(p.TargetDims) == 0 {
		return nil, fmt.Errorf("target_dims is empty: s2sd needs at least one target branch")
	}
	if env.FeatureDim < 1 {
		return nil, fmt.Errorf("feature width %d: pass criteria.FeatureDim with the backbone's pooled feature width", env.FeatureDim)
	}
	var err error
	if c.source, err = env.Sub(p.Source, env.D); err != nil {
		return nil, fmt.Errorf("source criterion: %w", err)
	}
	for k, t := range p.TargetDims {
		if t < 1 {
			return nil, fmt.Errorf("target_dims[%d] = %d: must be >= 1", k, t)
		}
		tc, err := env.Sub(p.Target, t)
		if err != nil {
			return nil, fmt.Errorf("target criterion %d (dim %d): %w", k, t, err)
		}
		c.targets = append(c.targets, tc)
	}
	for k, t := range p.TargetDims {
		pre := "target_nets." + strconv.Itoa(k)
		w1, b1 := linearInit(env.FeatureDim, t)
		w2, b2 := linearInit(t, t)
		c.nets = append(c.nets, [4]param{
			{pre + ".0.weight", place(w1, env.Device)}, {pre + ".0.bias", place(b1, env.Device)},
			{pre + ".2.weight", place(w2, env.Device)}, {pre + ".2.bias", place(b2, env.Device)},
		})
	}
	return c, nil
}

// kl is the original S2SD's similarity distillation: F.kl_div(log_softmax(A/T),
// softmax(B/T), reduction='sum') · T² / rows.
func (c *s2sd) kl(a, b *torch.Tensor) *torch.Tensor {
	lb := b.DivScalar(c.t).LogSoftmax(-1)
	pb := b.DivScalar(c.t).Softmax(-1)
	la := a.DivScalar(c.t).LogSoftmax(-1)
	return pb.Mul(lb.Sub(la)).Sum().MulScalar(c.t * c.t / float64(a.Size(0)))
}

func (c *s2sd) Loss(b Batch) *torch.Tensor {
	bs := b.Embeds.Size(0)
	x := b.Embeds.Normalize(2, -1, normEps)
	var f *torch.Tensor
	if c.poolAggr {
		if b.Features == nil {
			panic(fmt.Sprintf("criteria: s2sd with pool_aggr needs Batch.Features (bug in the caller)"))
		}
		f = torch.AdaptiveAvgPool2d(b.Features, [2]int64{1, 1}).Reshape(bs, -1).
			Add(torch.AdaptiveMaxPool2d(b.Features, [2]int64{1, 1}).Reshape(bs, -1))
	} else {
		if b.AvgFeatures == nil {
			panic("criteria: s2sd needs Batch.AvgFeatures (bug in the caller)")
		}
		f = b.AvgFeatures.Reshape(bs, -1)
	}
	if f.Size(1) != int64(c.featureWidth) {
		panic(fmt.Sprintf("criteria: s2sd target branches take %d features, the batch has %d (pass criteria.FeatureDim; bug in the caller)", c.featureWidth, f.Size(1)))
	}
	sub := b
	sub.Embeds = x
	srcLoss := c.source.Loss(sub)
	srcS := x.Mm(x.T())
	var tls, kls []*torch.Tensor
	for k, net := range c.nets {
		h := torch.Linear(f, net[0].t, net[1].t).Relu()
		y := torch.Linear(h, net[2].t, net[3].t).Normalize(2, -1, normEps)
		tb := b
		tb.Embeds = y
		tls = append(tls, c.targets[k].Loss(tb))
		kls = append(kls, c.kl(srcS, y.Mm(y.T()).Detach()))
	}
	loss := torch.Stack(tls, 0).Mean().Add(srcLoss).DivScalar(2)
	loss = loss.Add(torch.Stack(kls, 0).Mean().MulScalar(c.w))
	if c.featDistill && b.Iter >= c.featDelay {
		nf := f.Normalize(2, -1, normEps).Detach()
		loss = loss.Add(c.kl(srcS, nf.Mm(nf.T())).MulScalar(c.featW))
	}
	return loss
}

func (c *s2sd) netParams() []param {
	var ps []param
	for _, n := range c.nets {
		ps = append(ps, n[:]...)
	}
	return ps
}

func (c *s2sd) Groups(baseLR float64) []optim.Group {
	var nets []*torch.Tensor
	for _, p := range c.netParams() {
		nets = append(nets, p.t)
	}
	gs := []optim.Group{{Name: "s2sd.target_nets", Params: nets, LR: baseLR}}
	var crit []*torch.Tensor
	for _, sc := range append([]Criterion{c.source}, c.targets...) {
		_, ts := sc.Named()
		crit = append(crit, ts...)
	}
	if len(crit) > 0 {
		gs = append(gs, optim.Group{Name: "s2sd.criteria", Params: crit, LR: baseLR})
	}
	return gs
}

func (c *s2sd) Named() ([]string, []*torch.Tensor) {
	names, ts := named(c.netParams())
	add := func(prefix string, sc Criterion) {
		n, t := sc.Named()
		for i := range n {
			names = append(names, prefix+n[i])
			ts = append(ts, t[i])
		}
	}
	add("source_criterion.", c.source)
	for k, tc := range c.targets {
		add("target_criteria."+strconv.Itoa(k)+".", tc)
	}
	return names, ts
}

func (c *s2sd) Close() {
	closeParams(c.netParams())
	Close(c.source)
	for _, tc := range c.targets {
		Close(tc)
	}
}
