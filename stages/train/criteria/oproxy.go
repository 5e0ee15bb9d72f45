package criteria

import (
	"dmlrun/stage"
	"dmlrun/stages/nir"
	"dmlrun/torch"
	"dmlrun/torch/optim"
)

// oproxy is the original's ProxyAnchor / ProxyNCA criterion (reference §5.1). The maths is
// stages/nir's ProxyLoss (the same function NIR's alignment term uses), so the two cannot
// drift apart.
type oproxy struct {
	proxies param
	hp      nir.ProxyHP
	mode    nir.ProxyMode
	lrmulti float64
}

func newOProxy(p stage.Params, D, C int, o options) (*oproxy, error) {
	mode, err := nir.ParseProxyMode(p.String("mode"))
	if err != nil {
		return nil, err
	}
	return &oproxy{
		// randn(C, D) / 8 on the CPU generator, as the original's constructor.
		proxies: param{"proxies", place(nir.InitProxies(C, D), o.dev)},
		hp:      nir.ProxyHP{PosAlpha: p.Float("pos_alpha"), NegAlpha: p.Float("neg_alpha"), PosDelta: p.Float("pos_delta"), NegDelta: p.Float("neg_delta")},
		mode:    mode,
		lrmulti: p.Float("lrmulti"),
	}, nil
}

func (c *oproxy) Loss(b Batch) *torch.Tensor {
	return nir.ProxyLoss(b.Embeds, c.proxies.t, b.Labels, c.hp, c.mode)
}

func (c *oproxy) Groups(baseLR float64) []optim.Group {
	return []optim.Group{{Name: "oproxy.proxies", Params: []*torch.Tensor{c.proxies.t}, LR: baseLR * c.lrmulti}}
}

func (c *oproxy) Named() ([]string, []*torch.Tensor) { return named([]param{c.proxies}) }
func (c *oproxy) Close()                             { closeParams([]param{c.proxies}) }

// nirCriterion adapts stages/nir's criterion (reference §6) to Criterion. Its loss is
// float64, as the original's.
type nirCriterion struct{ c *nir.Criterion }

func (n *nirCriterion) Loss(b Batch) *torch.Tensor {
	l, _ := n.c.Loss(b.Embeds, b.Labels)
	return l
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
