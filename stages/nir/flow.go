package nir

import (
	"fmt"

	"dmlrun/torch"
)

// Flow is the original's conditional normalising flow (reference §6.2): K blocks, each a
// fixed channel permutation (NumPy legacy seed k) followed by a FrEIA GLOWCouplingBlock with
// the ATAN soft clamp. Forward maps embeddings x to latents z and returns log|det dz/dx|.
type Flow struct {
	D, K   int
	d1, d2 int // split sizes: d1 = round(D/2) (half to even), d2 = D - d1
	clamp  float64

	perms            [][]int         // perms[k][i]: out[:, i] = in[:, perms[k][i]]
	permIdx, invIdx  []*torch.Tensor // the same as int64 tensors on the flow's device
	conditioned      []bool          // block k takes a condition input (width D)
	subnet1, subnet2 []mlp           // subnet1: [v1, c] -> (s1, t1); subnet2: [u2, c] -> (s2, t2)
}

// condBlocks says which blocks a conditioning mode conditions.
func condBlocks(mode string, k int) []bool {
	c := make([]bool, k)
	switch mode {
	case CondStart:
		c[0] = true
	case CondMid:
		c[k/2] = true
	case CondEnd:
		c[k-1] = true
	default: // every dense* mode
		for i := range c {
			c[i] = true
		}
	}
	return c
}

// newFlow draws the flow's parameters from the CPU generator in the original's order
// (block 0 subnet1, block 0 subnet2, block 1 subnet1, ...; weight before bias), float32 on
// the CPU.
func newFlow(cfg Config) *Flow {
	f := &Flow{D: cfg.D, K: cfg.Blocks, clamp: cfg.Clamp}
	f.d1 = splitLen1(cfg.D)
	f.d2 = cfg.D - f.d1
	f.conditioned = condBlocks(cfg.CondMode, cfg.Blocks)
	xavier := cfg.FcInit == "xavier"
	for k := 0; k < cfg.Blocks; k++ {
		p := FlowPermutation(k, cfg.D)
		f.perms = append(f.perms, p)
		f.permIdx = append(f.permIdx, intTensor(p))
		f.invIdx = append(f.invIdx, intTensor(invertPermutation(p)))
		dc := 0
		if f.conditioned[k] {
			dc = cfg.D
		}
		f.subnet1 = append(f.subnet1, newSubnet(fmt.Sprintf("flow.block%d.subnet1", k), f.d1+dc, 2*f.d2, cfg.Depth, cfg.Width, xavier))
		f.subnet2 = append(f.subnet2, newSubnet(fmt.Sprintf("flow.block%d.subnet2", k), f.d2+dc, 2*f.d1, cfg.Depth, cfg.Width, xavier))
	}
	return f
}

func intTensor(v []int) *torch.Tensor {
	d := make([]int64, len(v))
	for i, x := range v {
		d[i] = int64(x)
	}
	t, err := torch.FromInt64(d, int64(len(d)))
	if err != nil {
		panic("nir: FromInt64 with a matching length failed (bug): " + err.Error())
	}
	return t
}

// params lists the trainable flow parameters in construction order. The permutation index
// tensors are not included: the original registers them as (never trained) parameters of
// the flow group, but they are fixed by the seeds and carry no state.
func (f *Flow) params() []*param {
	var ps []*param
	for k := 0; k < f.K; k++ {
		ps = append(ps, f.subnet1[k].params()...)
		ps = append(ps, f.subnet2[k].params()...)
	}
	return ps
}

// softClamp is FrEIA's ATAN clamp: clamp * (0.636 * atan(s)), in that operation order.
func (f *Flow) softClamp(s *torch.Tensor) *torch.Tensor {
	return s.Atan().MulScalar(0.636).MulScalar(f.clamp)
}

func withCond(x, c *torch.Tensor) *torch.Tensor {
	if c == nil {
		return x
	}
	return torch.Cat([]*torch.Tensor{x, c}, 1)
}

// coupling runs GLOW block k forward: returns [v1, v2] and the block's log-det (shape B).
func (f *Flow) coupling(k int, u, c *torch.Tensor) (*torch.Tensor, *torch.Tensor) {
	d1, d2 := int64(f.d1), int64(f.d2)
	u1, u2 := u.Narrow(1, 0, d1), u.Narrow(1, d1, d2)

	a2 := f.subnet2[k].forward(withCond(u2, c))
	s2 := f.softClamp(a2.Narrow(1, 0, d1))
	t2 := a2.Narrow(1, d1, d1)
	j1 := s2.SumDim([]int64{1}, false)
	v1 := s2.Exp().Mul(u1).Add(t2)

	a1 := f.subnet1[k].forward(withCond(v1, c))
	s1 := f.softClamp(a1.Narrow(1, 0, d2))
	t1 := a1.Narrow(1, d2, d2)
	j2 := s1.SumDim([]int64{1}, false)
	v2 := s1.Exp().Mul(u2).Add(t1)

	return torch.Cat([]*torch.Tensor{v1, v2}, 1), j1.Add(j2)
}

// couplingReverse inverts block k: from [v1, v2] back to [u1, u2]; the returned log-det is
// that of the inverse map (the negated forward log-det).
func (f *Flow) couplingReverse(k int, v, c *torch.Tensor) (*torch.Tensor, *torch.Tensor) {
	d1, d2 := int64(f.d1), int64(f.d2)
	v1, v2 := v.Narrow(1, 0, d1), v.Narrow(1, d1, d2)

	a1 := f.subnet1[k].forward(withCond(v1, c))
	s1 := f.softClamp(a1.Narrow(1, 0, d2))
	t1 := a1.Narrow(1, d2, d2)
	j2 := s1.SumDim([]int64{1}, false)
	u2 := v2.Sub(t1).Mul(s1.Neg().Exp())

	a2 := f.subnet2[k].forward(withCond(u2, c))
	s2 := f.softClamp(a2.Narrow(1, 0, d1))
	t2 := a2.Narrow(1, d1, d1)
	j1 := s2.SumDim([]int64{1}, false)
	u1 := v1.Sub(t2).Mul(s2.Neg().Exp())

	return torch.Cat([]*torch.Tensor{u1, u2}, 1), j1.Add(j2).Neg()
}

func (f *Flow) checkConds(conds []*torch.Tensor) {
	if len(conds) != f.K {
		panic(fmt.Sprintf("nir: flow with %d blocks got %d conditions (bug in the caller)", f.K, len(conds)))
	}
	for k, c := range conds {
		if (c != nil) != f.conditioned[k] {
			panic(fmt.Sprintf("nir: flow block %d conditioned=%v but got condition=%v (bug in the caller)", k, f.conditioned[k], c != nil))
		}
	}
}

// Forward maps x (B x D) to (z, logdet): z (B x D) and logdet = log|det dz/dx| per sample
// (B), accumulated over the blocks in order from zeros as FrEIA's GraphINN does. conds[k] is
// block k's condition (B x D) or nil for an unconditioned block.
func (f *Flow) Forward(x *torch.Tensor, conds []*torch.Tensor) (z, logdet *torch.Tensor) {
	f.checkConds(conds)
	logdet = torch.Zeros([]int64{x.Size(0)}, x.DType(), x.Device())
	u := x
	for k := 0; k < f.K; k++ {
		u = u.IndexSelect(1, f.permIdx[k])
		var ld *torch.Tensor
		u, ld = f.coupling(k, u, conds[k])
		logdet = logdet.Add(ld)
	}
	return u, logdet
}

// Reverse maps z back to x = Forward^{-1}(z); logdet is log|det dx/dz| (= -Forward's).
func (f *Flow) Reverse(z *torch.Tensor, conds []*torch.Tensor) (x, logdet *torch.Tensor) {
	f.checkConds(conds)
	logdet = torch.Zeros([]int64{z.Size(0)}, z.DType(), z.Device())
	u := z
	for k := f.K - 1; k >= 0; k-- {
		var ld *torch.Tensor
		u, ld = f.couplingReverse(k, u, conds[k])
		logdet = logdet.Add(ld)
		u = u.IndexSelect(1, f.invIdx[k])
	}
	return u, logdet
}

// NumParams is the number of trainable flow parameters (the original prints it as
// "Initialized NormFlow with N params").
func (f *Flow) NumParams() int64 {
	var n int64
	for _, p := range f.params() {
		n += p.t.Numel()
	}
	return n
}
