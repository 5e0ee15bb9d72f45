package nir

import (
	"fmt"
	"slices"

	"dmlrun/torch"
)

// Criterion is the NIR loss of the original (`--loss nir`, reference §6): class proxies, the
// conditional flow and the cond-prep network, with their parameters.
//
// Memory: New keeps the parameters alive past its own scope; they belong to the scope open
// when New was called (or to none). Close frees them. Tensors returned by Loss and Sample
// belong to the caller's innermost open scope, like any torch result.
//
// Not safe for concurrent use (torch work runs on one goroutine at a time anyway).
type Criterion struct {
	cfg     Config
	proxies *param
	flow    *Flow
	cond    *condPrep
}

// Parts are the pieces of one Loss evaluation, for logging and tests. All are part of the
// autograd graph of the loss; read them, do not backpropagate through them separately.
type Parts struct {
	ProxyAnchor *torch.Tensor // L_PA, float32 scalar (before the w_align factor)
	Flow        *torch.Tensor // L_NF: mean(exp(nll)) (or mean(nll) for ObjectiveNLL), float64 scalar
	NLL         *torch.Tensor // per-sample nll = 0.5*|z|^2 - logdet, float32 [B]
	Z           *torch.Tensor // flow output [B, D]
	LogDet      *torch.Tensor // log|det dz/dx| [B]
}

// New creates the criterion's parameters on the CPU generator in the original's order —
// proxies randn(C,D)/8, then the flow (block by block, subnet1 before subnet2, weight before
// bias), then the cond-prep MLPs — and moves them to cfg.Device. Seed the generator first
// (torch.ManualSeed) and consume it as the original did before (backbone, head) for parity.
func New(cfg Config) (*Criterion, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var c *Criterion
	s := torch.NewScope()
	defer s.Close()
	err := torch.Catch(func() error {
		c = &Criterion{cfg: cfg}
		c.proxies = &param{name: "proxies", t: InitProxies(cfg.C, cfg.D)}
		c.flow = newFlow(cfg)
		c.cond = newCondPrep(cfg)
		c.place(cfg.Device, torch.Float32)
		s.Keep(c.tensors()...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("nir: create criterion (D=%d, C=%d, %s): %w", cfg.D, cfg.C, cfg.CondMode, err)
	}
	return c, nil
}

// Config returns the configuration the criterion was built with.
func (c *Criterion) Config() Config { return c.cfg }

// Flow exposes the flow (for inspection and tests).
func (c *Criterion) Flow() *Flow { return c.flow }

// Proxies is the raw C x D proxy parameter.
func (c *Criterion) Proxies() *torch.Tensor { return c.proxies.t }

func (c *Criterion) allParams() []*param {
	ps := []*param{c.proxies}
	ps = append(ps, c.flow.params()...)
	return append(ps, c.cond.params()...)
}

// tensors lists every native tensor the criterion owns (parameters and permutation indices).
func (c *Criterion) tensors() []*torch.Tensor {
	var ts []*torch.Tensor
	for _, p := range c.allParams() {
		ts = append(ts, p.t)
	}
	ts = append(ts, c.flow.permIdx...)
	return append(ts, c.flow.invIdx...)
}

// place moves every parameter to dev with dtype dt as a fresh trainable leaf, and the
// permutation indices to dev.
func (c *Criterion) place(dev torch.Device, dt torch.DType) {
	for _, p := range c.allParams() {
		p.t = p.t.Detach().To(dev).ToDType(dt).SetRequiresGrad(true)
	}
	for k := range c.flow.permIdx {
		c.flow.permIdx[k] = c.flow.permIdx[k].To(dev)
		c.flow.invIdx[k] = c.flow.invIdx[k].To(dev)
	}
}

// Close frees the criterion's tensors. Idempotent.
func (c *Criterion) Close() {
	for _, t := range c.tensors() {
		t.Close()
	}
}

// Named returns the parameters with their checkpoint names, in creation order: "proxies",
// "flow.block{k}.subnet{1,2}.{2i}.{weight,bias}", "condprep.embedder[.k].{0,2}.{weight,bias}".
// The tensors are the live parameters (not copies). The names are dmlrun's, modelled on
// PyTorch state-dict naming (Sequential indices for Linear layers); they are not the
// original's GraphINN module_list names, so original checkpoints need a name map.
func (c *Criterion) Named() ([]string, []*torch.Tensor) {
	ps := c.allParams()
	names := make([]string, len(ps))
	ts := make([]*torch.Tensor, len(ps))
	for i, p := range ps {
		names[i], ts[i] = p.name, p.t
	}
	return names, ts
}

// LoadNamed copies values into the parameters (no autograd), converting dtype and device.
// Every parameter must be present with its shape; extra names are an error too, so a
// checkpoint of another configuration is never half-loaded.
func (c *Criterion) LoadNamed(values map[string]*torch.Tensor) error {
	ps := c.allParams()
	known := map[string]bool{}
	for _, p := range ps {
		known[p.name] = true
		v, ok := values[p.name]
		if !ok {
			return fmt.Errorf("nir: load parameters: %q missing", p.name)
		}
		if !slices.Equal(v.Shape(), p.t.Shape()) {
			return fmt.Errorf("nir: load parameters: %q has shape %v, the criterion needs %v", p.name, v.Shape(), p.t.Shape())
		}
	}
	for n := range values {
		if !known[n] {
			return fmt.Errorf("nir: load parameters: unexpected %q (not a parameter of this %s flow with %d blocks)", n, c.cfg.CondMode, c.cfg.Blocks)
		}
	}
	return torch.Catch(func() error {
		torch.NoGrad(func() {
			for _, p := range ps {
				p.t.CopyFrom(values[p.name])
			}
		})
		return nil
	})
}

// Loss evaluates the NIR criterion on embeddings emb (B x D, as the model outputs them, i.e.
// already L2-normalised by the _normalize architectures) and int64 labels (B), exactly as
// the original (reference §6.4):
//
//	L_PA  = ProxyAnchor(emb, P, labels) with the oproxy hyperparameters
//	q     = n(P)[labels];  conds = condprep(q)
//	x     = emb, or n(emb + noise*U[0,1)) with U drawn on the CPU generator if Noise != 0
//	z, ld = flow(x, conds)
//	nll_i = 0.5*sum_d z_id^2 - ld_i                       (float32)
//	L_NF  = mean_i exp(nll_i)                              (float64; ObjectiveNLL: mean_i nll_i)
//	L     = L_NF + w_align * L_PA                          (float64)
//
// It returns L (float64 scalar) and its parts. emb must be on the criterion's device; labels
// may be on the CPU. Call it inside the step's scope.
func (c *Criterion) Loss(emb, labels *torch.Tensor) (*torch.Tensor, Parts) {
	if emb.Dim() != 2 || emb.Size(1) != int64(c.cfg.D) || labels.Dim() != 1 || labels.Size(0) != emb.Size(0) {
		panic(fmt.Sprintf("nir: Loss needs embeddings [B, %d] and labels [B], got %v and %v (bug in the caller)", c.cfg.D, emb.Shape(), labels.Shape()))
	}
	labels = labels.To(emb.Device())
	var parts Parts
	parts.ProxyAnchor = ProxyAnchor(emb, c.proxies.t, labels, c.cfg.ProxyHP())

	q := c.proxies.t.Normalize(2, -1, normEps).Index(labels)
	conds := c.cond.conds(q)

	x := emb
	if c.cfg.Noise != 0 {
		u := torch.Rand(emb.Shape(), emb.DType(), torch.CPUDevice).To(emb.Device())
		x = emb.Add(u.MulScalar(c.cfg.Noise)).Normalize(2, -1, normEps)
	}
	parts.Z, parts.LogDet = c.flow.Forward(x, conds)
	parts.NLL = parts.Z.Square().SumDim([]int64{1}, false).MulScalar(0.5).Sub(parts.LogDet)

	// The original multiplies the float32 vector by NumPy float64 ones: the tail is float64.
	nll64 := parts.NLL.ToDType(torch.Float64)
	if c.cfg.Objective == ObjectiveNLL {
		parts.Flow = nll64.Mean()
	} else {
		parts.Flow = nll64.Exp().Mean()
	}
	// w_align * L_PA is a Python float times a float32 tensor (float32), then promoted.
	loss := parts.Flow.Add(parts.ProxyAnchor.MulScalar(c.cfg.WAlign).ToDType(torch.Float64))
	return loss, parts
}

// Sample draws n points from the learned class-conditional density of class classIdx:
// x = flow^{-1}(z | n(p_class)) with z ~ N(0, I) drawn on the parameters' device generator.
// No autograd. It panics if classIdx is out of range (a caller bug).
func (c *Criterion) Sample(classIdx, n int) *torch.Tensor {
	if classIdx < 0 || classIdx >= c.cfg.C || n < 1 {
		panic(fmt.Sprintf("nir: Sample(class %d, n %d) with %d classes (bug in the caller)", classIdx, n, c.cfg.C))
	}
	var x *torch.Tensor
	torch.NoGrad(func() {
		p := c.proxies.t
		z := torch.Randn([]int64{int64(n), int64(c.cfg.D)}, p.DType(), p.Device())
		q := p.Normalize(2, -1, normEps).Narrow(0, int64(classIdx), 1).Expand(int64(n), int64(c.cfg.D))
		x, _ = c.flow.Reverse(z, c.cond.conds(q))
	})
	return x
}

// Conditions returns the flow conditions for int64 labels (for tests and inspection).
func (c *Criterion) Conditions(labels *torch.Tensor) []*torch.Tensor {
	return c.cond.conds(c.proxies.t.Normalize(2, -1, normEps).Index(labels))
}
