package criteria

import (
	"dmlrun/stages/nir"
	"dmlrun/torch"
	"dmlrun/torch/optim"
)

var oproxyLoss = Define(Spec[oproxyParams]{
	Name:         "oproxy",
	Aliases:      []string{"proxyanchor", "proxy_anchor", "proxy-anchor", "pa", "proxynca", "proxy_nca"},
	Doc:          "ProxyAnchor (mode \"anchor\") or ProxyNCA-like (mode \"nca\") on one learned proxy per class; the baseline NIR is compared with.",
	Defaults:     oproxyParams{Mode: "anchor", LRMulti: 2000, PosAlpha: 32, NegAlpha: 32, PosDelta: 0.1, NegDelta: -0.1},
	SubCriterion: true,
	New:          newOProxy,
})

type oproxyParams struct {
	Mode     string  `param:"mode" enum:"anchor,nca" doc:"\"anchor\" is ProxyAnchor (reduce over the batch), \"nca\" ProxyNCA-like (reduce over proxies) (loss_oproxy_mode)."`
	LRMulti  float64 `param:"lrmulti" above:"0" doc:"Proxy learning rate = lr x this (loss_oproxy_lrmulti)."`
	PosAlpha float64 `param:"pos_alpha" doc:"Scale alpha+ of the positive term (loss_oproxy_pos_alpha)."`
	NegAlpha float64 `param:"neg_alpha" doc:"Scale alpha- of the negative term (loss_oproxy_neg_alpha)."`
	PosDelta float64 `param:"pos_delta" doc:"Margin delta+ of the positive term (loss_oproxy_pos_delta)."`
	NegDelta float64 `param:"neg_delta" doc:"Margin delta- of the negative term (loss_oproxy_neg_delta)."`
}

// oproxy is the original's ProxyAnchor / ProxyNCA criterion (reference §5.1). The maths is
// stages/nir's ProxyLoss (the same function NIR's alignment term uses), so the two cannot
// drift apart.
type oproxy struct {
	proxies param
	hp      nir.ProxyHP
	mode    nir.ProxyMode
	lrmulti float64
}

func newOProxy(p *oproxyParams, env Env) (Criterion, error) {
	mode, err := nir.ParseProxyMode(p.Mode)
	if err != nil {
		return nil, err
	}
	return &oproxy{
		// randn(C, D) / 8 on the CPU generator, as the original's constructor.
		proxies: param{"proxies", place(nir.InitProxies(env.C, env.D), env.Device)},
		hp:      nir.ProxyHP{PosAlpha: p.PosAlpha, NegAlpha: p.NegAlpha, PosDelta: p.PosDelta, NegDelta: p.NegDelta},
		mode:    mode,
		lrmulti: p.LRMulti,
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
