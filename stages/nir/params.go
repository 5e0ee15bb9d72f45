package nir

import (
	"fmt"
	"math"

	"dmlrun/torch"
)

// param is one named trainable tensor. Layers hold *param, not the tensor, so that replacing
// a parameter (loading a checkpoint with another dtype, moving devices) updates every user.
type param struct {
	name string
	t    *torch.Tensor
}

// linear is y = x W^T + b (PyTorch nn.Linear), W [out, in], b [out].
type linear struct {
	w, b    *param
	in, out int
}

func (l linear) forward(x *torch.Tensor) *torch.Tensor { return torch.Linear(x, l.w.t, l.b.t) }

// mlp is Linear, then (ReLU, Linear) repeated: FrEIA subnet_fc / cond-prep embedder layout.
// No activation after the last layer, no dropout.
type mlp []linear

func (m mlp) forward(x *torch.Tensor) *torch.Tensor {
	for i, l := range m {
		if i > 0 {
			x = x.Relu()
		}
		x = l.forward(x)
	}
	return x
}

// uniform draws shape from U(-bound, bound) on the CPU generator bit-identically to
// PyTorch's tensor.uniform_(-bound, bound) for float32: uniform_ computes x*(to-from)+from
// with to, from rounded to float32 and (in the AVX2 kernel) a fused multiply-add. Computing
// r*(2*bf) - bf in float64 from the float32 draw r and rounding once reproduces that (checked
// on 5 x 1e5 draws against torch 1.13); rand(...) consumes the generator as uniform_ does.
func uniform(shape []int64, bound float64) *torch.Tensor {
	bf := float64(float32(bound))
	r := torch.Rand(shape, torch.Float32, torch.CPUDevice)
	return r.ToDType(torch.Float64).MulScalar(2 * bf).SubScalar(bf).ToDType(torch.Float32)
}

// kaimingBound is PyTorch's nn.Linear weight bound, kaiming_uniform_(a=sqrt(5)), written
// with the same float64 operations (it is 1/sqrt(fan_in) up to the last bit, and the last
// bit can survive the rounding to float32).
func kaimingBound(fanIn int) float64 {
	a := math.Sqrt(5)
	gain := math.Sqrt(2.0 / (1 + a*a))
	std := gain / math.Sqrt(float64(fanIn))
	return math.Sqrt(3.0) * std
}

// newDefaultLinear creates Linear(in, out) with PyTorch's default reset_parameters: weight
// then bias, each U(-1/sqrt(in), 1/sqrt(in)), on the CPU generator, float32.
func newDefaultLinear(name string, in, out int) linear {
	w := uniform([]int64{int64(out), int64(in)}, kaimingBound(in))
	b := uniform([]int64{int64(out)}, 1/math.Sqrt(float64(in)))
	return linear{w: &param{name: name + ".weight", t: w}, b: &param{name: name + ".bias", t: b}, in: in, out: out}
}

// xavierInit re-initialises l with nn.init.xavier_uniform_ (gain 1) and a zero bias.
func xavierInit(l linear) {
	bound := math.Sqrt(3.0) * math.Sqrt(2.0/float64(l.in+l.out))
	l.w.t = uniform([]int64{int64(l.out), int64(l.in)}, bound)
	l.b.t = torch.Zeros([]int64{int64(l.out)}, torch.Float32, torch.CPUDevice)
}

// newSubnet builds the original's NormFlow.subnet_fc(in, out): depth Linear layers named
// prefix.0, prefix.2, ... (the nn.Sequential indices, ReLUs at the odd ones). With xavier,
// every layer but the first is re-initialised (Xavier-uniform weight, zero bias) right after
// it is created, before the next layer is constructed: that interleaving fixes the order in
// which the generator is consumed.
func newSubnet(prefix string, in, out, depth, width int, xavier bool) mlp {
	m := make(mlp, 0, depth)
	fanIn := in
	for i := 0; i < depth; i++ {
		o := width
		if i == depth-1 {
			o = out
		}
		l := newDefaultLinear(fmt.Sprintf("%s.%d", prefix, 2*i), fanIn, o)
		if xavier && i > 0 {
			xavierInit(l)
		}
		m = append(m, l)
		fanIn = width
	}
	return m
}

func (m mlp) params() []*param {
	var ps []*param
	for _, l := range m {
		ps = append(ps, l.w, l.b)
	}
	return ps
}
