package nir

import (
	"dmlrun/torch"
	"dmlrun/torch/optim"
)

// Groups returns the optimiser groups the original appends after the network group
// (reference §6.1): proxies at baseLR x ProxyLRMulti, flow and cond-prep at baseLR x
// FlowLRMulti, all without weight decay. The cond-prep group is empty in the dense, start,
// mid and end modes; it is returned anyway so group indices match the original's.
func (c *Criterion) Groups(baseLR float64) []optim.Group {
	var flow, cond []*torch.Tensor
	for _, p := range c.flow.params() {
		flow = append(flow, p.t)
	}
	for _, p := range c.cond.params() {
		cond = append(cond, p.t)
	}
	return []optim.Group{
		{Name: "nir.proxies", Params: []*torch.Tensor{c.proxies.t}, LR: baseLR * c.cfg.ProxyLRMulti},
		{Name: "nir.flow", Params: flow, LR: baseLR * c.cfg.FlowLRMulti},
		{Name: "nir.condprep", Params: cond, LR: baseLR * c.cfg.FlowLRMulti},
	}
}
