package models

import (
	"math"

	"dmlrun/torch"
)

// entry is one tensor of a model's state dict. ptr points at the field of the layer that uses
// it, so that moving to a device or loading replaces what forward reads.
type entry struct {
	name      string
	ptr       **torch.Tensor
	trainable bool // parameter (in an optimiser group) rather than buffer (BN running stats)
	head      bool // belongs to last_linear
}

// builder collects a model's state dict entries in registration order (the order of
// torchvision's state_dict()).
type builder struct{ entries []entry }

func (b *builder) param(name string, p **torch.Tensor) {
	b.entries = append(b.entries, entry{name: name, ptr: p, trainable: true})
}

func (b *builder) buffer(name string, p **torch.Tensor) {
	b.entries = append(b.entries, entry{name: name, ptr: p})
}

// conv is a bias-free 2-D convolution (every conv in the ResNets and smallcnn).
type conv struct {
	W       *torch.Tensor
	stride  int64
	padding int64
}

func (c *conv) forward(x *torch.Tensor) *torch.Tensor {
	return torch.Conv2d(x, c.W, nil, [2]int64{c.stride, c.stride}, [2]int64{c.padding, c.padding}, [2]int64{1, 1}, 1)
}

// bn is BatchNorm2d (eps 1e-5; momentum 0.1, 0.9 in BN-Inception). frozen: always eval
// mode (reference §4.2).
type bn struct {
	W, B, Mean, Var *torch.Tensor
	frozen          bool
	momentum        float64
}

func (n *bn) forward(x *torch.Tensor, train bool) *torch.Tensor {
	return torch.BatchNorm(x, n.W, n.B, n.Mean, n.Var, train && !n.frozen, n.momentum, 1e-5)
}

// linear is y = x W^T + b.
type linear struct{ W, B *torch.Tensor }

func (l *linear) forward(x *torch.Tensor) *torch.Tensor { return torch.Linear(x, l.W, l.B) }

var cpu = torch.Device{Kind: torch.CPU}

// uniform draws U(lo, hi) like torch's uniform_ on a float tensor: x*(hi-lo)+lo in float32
// with x from the global CPU generator (one 24-bit draw per element, in order).
func uniform(shape []int64, lo, hi float64) *torch.Tensor {
	flo, fhi := float32(lo), float32(hi)
	x := torch.Rand(shape, torch.Float32, cpu)
	return x.MulScalar(float64(fhi - flo)).AddScalar(float64(flo))
}

// kaimingUniformA5 is nn.Conv2d/nn.Linear's default weight init:
// kaiming_uniform_(w, a=sqrt(5)) computed in float64 exactly as torch.nn.init does.
func kaimingUniformA5(shape []int64, fanIn int64) *torch.Tensor {
	a := math.Sqrt(5)
	gain := math.Sqrt(2.0 / (1 + a*a))
	std := gain / math.Sqrt(float64(fanIn))
	bound := math.Sqrt(3.0) * std
	return uniform(shape, -bound, bound)
}

// newConvDefault builds a conv weight with nn.Conv2d's default reset (consumes the generator
// like the constructor; torchvision later overwrites it with kaiming-normal).
func newConvDefault(out, in, k, stride, padding int64) *conv {
	w := kaimingUniformA5([]int64{out, in, k, k}, in*k*k)
	return &conv{W: w, stride: stride, padding: padding}
}

// kaimingNormalFanOut re-initialises a conv weight with kaiming_normal_(mode="fan_out",
// nonlinearity="relu"): normal_(0, sqrt(2)/sqrt(fan_out)).
func (c *conv) kaimingNormalFanOut() {
	s := c.W.Shape()
	fanOut := s[0] * s[2] * s[3]
	std := math.Sqrt(2.0) / math.Sqrt(float64(fanOut))
	old := c.W
	c.W = torch.Randn(s, torch.Float32, cpu).MulScalar(std)
	old.Close()
}

func newBN(ch int64, frozen bool) *bn {
	return &bn{
		W:        torch.Ones([]int64{ch}, torch.Float32, cpu),
		B:        torch.Zeros([]int64{ch}, torch.Float32, cpu),
		Mean:     torch.Zeros([]int64{ch}, torch.Float32, cpu),
		Var:      torch.Ones([]int64{ch}, torch.Float32, cpu),
		frozen:   frozen,
		momentum: 0.1,
	}
}

func (n *bn) register(b *builder, prefix string) {
	b.param(prefix+".weight", &n.W)
	b.param(prefix+".bias", &n.B)
	b.buffer(prefix+".running_mean", &n.Mean)
	b.buffer(prefix+".running_var", &n.Var)
}

// newLinearDefault is nn.Linear's default init: weight kaiming_uniform_(a=sqrt(5)), then bias
// U(-1/sqrt(in), 1/sqrt(in)).
func newLinearDefault(in, out int64) *linear {
	w := kaimingUniformA5([]int64{out, in}, in)
	bound := 1 / math.Sqrt(float64(in))
	b := uniform([]int64{out}, -bound, bound)
	return &linear{W: w, B: b}
}
