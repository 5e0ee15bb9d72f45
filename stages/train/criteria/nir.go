package criteria

import (
	"dmlrun/stage"
	"dmlrun/stages/nir"
	"dmlrun/torch"
	"dmlrun/torch/optim"
)

var nirLoss = Define(Spec[nir.LossParams]{
	Name:     "nir",
	Aliases:  []string{"nonisotropic", "non_isotropic", "nir_proxy"},
	Doc:      "NIR: ProxyAnchor (weight w_align) plus the NLL of the embeddings under a class-conditional normalising flow around each proxy (stages/nir).",
	Defaults: nir.DefaultLossParams(),
	// stages/nir manages its own scope and keeps buffers (the permutation indices) that
	// Named does not list, so it is built outside ours.
	OwnsScope: true,
	Check: func(_ *nir.LossParams, b TrainBlock) stage.Problems {
		var probs stage.Problems
		if b.EmbedDim != 0 && b.EmbedDim < 2 {
			probs.Addf("", "Embedding too small for nir", "The nir loss's flow splits the embedding into two halves, so it needs embed_dim >= 2; the block has embed_dim = %d.", b.EmbedDim)
		}
		return probs
	},
	New: func(p *nir.LossParams, env Env) (Criterion, error) {
		cfg, err := p.Config(env.D, env.C)
		if err != nil {
			return nil, err
		}
		cfg.Device = env.Device
		c, err := nir.New(cfg)
		if err != nil {
			return nil, err
		}
		return &nirCriterion{c: c}, nil
	},
})

// nirCriterion adapts stages/nir's criterion (reference §6) to Criterion. Its loss is
// float64, as the original's.
type nirCriterion struct{ c *nir.Criterion }

func (n *nirCriterion) Loss(b Batch) *torch.Tensor {
	l, _ := n.c.Loss(b.Embeds, b.Labels)
	return l
}

// TermNames: the weighted ProxyAnchor term and the flow term (NLL or exp-NLL, weight 1).
func (n *nirCriterion) TermNames() []string { return []string{"proxyanchor", "nir"} }

// LossTerms returns Loss's value with w_align * L_PA (float32, promoted to float64 as the
// loss promotes it) and the flow term, which add up to it in float64.
func (n *nirCriterion) LossTerms(b Batch) (*torch.Tensor, []*torch.Tensor) {
	l, parts := n.c.Loss(b.Embeds, b.Labels)
	pa := parts.ProxyAnchor.MulScalar(n.c.Config().WAlign).ToDType(torch.Float64)
	return l, []*torch.Tensor{pa, parts.Flow}
}
func (n *nirCriterion) Groups(baseLR float64) []optim.Group { return n.c.Groups(baseLR) }
func (n *nirCriterion) Named() ([]string, []*torch.Tensor)  { return n.c.Named() }
func (n *nirCriterion) Close()                              { n.c.Close() }

// NIR returns the stages/nir criterion behind a nir Criterion (for its parts, sampling and
// warnings), or nil for other kinds.
func NIR(c Criterion) *nir.Criterion {
	if n, ok := c.(*nirCriterion); ok {
		return n.c
	}
	return nil
}
