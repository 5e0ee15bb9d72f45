package nir

import (
	"fmt"

	"dmlrun/torch"
)

// condPrep maps the normalised class proxy q = n(p_y) (B x D) to the flow's K conditions
// (reference §6.3).
type condPrep struct {
	mode string
	k    int
	cond []bool // which flow blocks take a condition
	nets []mlp  // embedder MLPs (Linear(D,D), ReLU, Linear(D,D)); empty for dense/start/mid/end
}

// newCondPrep draws the embedder MLPs (after the flow, as the original) from the CPU
// generator. Names follow the original module: embedder.0 / embedder.2 for the single MLP
// of dense_embed, embedder.k.0 / embedder.k.2 for MLP k of the multi modes.
func newCondPrep(cfg Config) *condPrep {
	cp := &condPrep{mode: cfg.CondMode, k: cfg.Blocks, cond: condBlocks(cfg.CondMode, cfg.Blocks)}
	newEmbedder := func(prefix string) mlp {
		return mlp{
			newDefaultLinear(prefix+".0", cfg.D, cfg.D),
			newDefaultLinear(prefix+".2", cfg.D, cfg.D),
		}
	}
	switch cfg.CondMode {
	case CondDenseEmbed:
		cp.nets = []mlp{newEmbedder("condprep.embedder")}
	case CondDenseEmbedMulti, CondDenseEmbedMultiStacked:
		for k := 0; k < cfg.Blocks; k++ {
			cp.nets = append(cp.nets, newEmbedder(fmt.Sprintf("condprep.embedder.%d", k)))
		}
	}
	return cp
}

func (cp *condPrep) params() []*param {
	var ps []*param
	for _, n := range cp.nets {
		ps = append(ps, n.params()...)
	}
	return ps
}

// conds returns the K flow conditions for q; unconditioned blocks get nil.
func (cp *condPrep) conds(q *torch.Tensor) []*torch.Tensor {
	out := make([]*torch.Tensor, cp.k)
	switch cp.mode {
	case CondDense:
		for k := range out {
			out[k] = q
		}
	case CondDenseEmbed:
		c := cp.nets[0].forward(q)
		for k := range out {
			out[k] = c
		}
	case CondDenseEmbedMulti:
		for k := range out {
			out[k] = cp.nets[k].forward(q)
		}
	case CondDenseEmbedMultiStacked:
		c := q
		for k := range out {
			c = cp.nets[k].forward(c)
			out[k] = c
		}
	default: // start, mid, end: the single condition is q itself
		for k := range out {
			if cp.cond[k] {
				out[k] = q
			}
		}
	}
	return out
}
