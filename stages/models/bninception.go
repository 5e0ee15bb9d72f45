package models

import (
	"math"

	"dmlrun/torch"
)

// BN-Inception as in the `pretrainedmodels` package (bninception.py, the network the
// original uses for "bninception" archs, reference §4.3): every convolution has a bias and
// is followed by BatchNorm (eps 1e-5, momentum 0.9 in PyTorch's convention) and ReLU; the
// stem is conv1_7x7_s2 -> max pool 3/2 (ceil) -> conv2_3x3_reduce -> conv2_3x3 -> max pool
// 3/2 (ceil); then ten inception modules. State-dict names are pretrainedmodels' own
// (conv1_7x7_s2.weight, inception_3a_1x1_bn.running_mean, ...), so its ImageNet file
// bn_inception-239d2248.pth loads by name. Input: BGR, 0..255 minus the channel means (the
// dataset's protocol does that).

// cbr is a conv (with bias) + BN + ReLU unit.
type cbr struct {
	name    string
	W, B    *torch.Tensor
	bn      *bn
	k, s, p int64
}

func newCBR(name string, in, out, k, s, p int64, frozen bool) *cbr {
	// nn.Conv2d default reset: weight kaiming_uniform(a=sqrt(5)), bias U(+-1/sqrt(fan_in)).
	fanIn := in * k * k
	w := kaimingUniformA5([]int64{out, in, k, k}, fanIn)
	bound := 1 / math.Sqrt(float64(fanIn))
	b := uniform([]int64{out}, -bound, bound)
	n := newBN(out, frozen)
	n.momentum = 0.9
	return &cbr{name: name, W: w, B: b, bn: n, k: k, s: s, p: p}
}

func (c *cbr) forward(x *torch.Tensor, train bool) *torch.Tensor {
	y := torch.Conv2d(x, c.W, c.B, [2]int64{c.s, c.s}, [2]int64{c.p, c.p}, [2]int64{1, 1}, 1)
	return c.bn.forward(y, train).Relu()
}

func (c *cbr) register(b *builder) {
	b.param(c.name+".weight", &c.W)
	b.param(c.name+".bias", &c.B)
	c.bn.register(b, c.name+"_bn")
}

// inceptionSpec gives a module's widths. Reduction modules (3c, 4e) have no 1x1 branch and
// no pool projection: their 3x3 and double-3x3 branches use stride 2 and their pool branch
// is a max pool 3/2 (ceil) passed through unchanged.
type inceptionSpec struct {
	name          string
	in            int64
	c1x1          int64 // 0 for reduction modules
	c3r, c3       int64
	cdr, cd1, cd2 int64
	proj          int64 // 0 for reduction modules
	maxPool       bool  // 5b's pool branch is a 3/1 max pool instead of 3/1 average
}

var bnInceptionSpecs = []inceptionSpec{
	{"inception_3a", 192, 64, 64, 64, 64, 96, 96, 32, false},
	{"inception_3b", 256, 64, 64, 96, 64, 96, 96, 64, false},
	{"inception_3c", 320, 0, 128, 160, 64, 96, 96, 0, false},
	{"inception_4a", 576, 224, 64, 96, 96, 128, 128, 128, false},
	{"inception_4b", 576, 192, 96, 128, 96, 128, 128, 128, false},
	{"inception_4c", 576, 160, 128, 160, 128, 160, 160, 128, false},
	{"inception_4d", 608, 96, 128, 192, 160, 192, 192, 128, false},
	{"inception_4e", 608, 0, 128, 192, 192, 256, 256, 0, false},
	{"inception_5a", 1056, 352, 192, 320, 160, 224, 224, 128, false},
	{"inception_5b", 1024, 352, 192, 320, 192, 224, 224, 128, true},
}

type inception struct {
	spec                          inceptionSpec
	b1, b3r, b3, dr, d1, d2, proj *cbr // b1 and proj nil for reduction modules
}

func newInception(s inceptionSpec, frozen bool) *inception {
	m := &inception{spec: s}
	red := s.c1x1 == 0
	stride := int64(1)
	if red {
		stride = 2
	}
	// Construction order = pretrainedmodels' __init__ order (generator draws and state dict).
	if !red {
		m.b1 = newCBR(s.name+"_1x1", s.in, s.c1x1, 1, 1, 0, frozen)
	}
	m.b3r = newCBR(s.name+"_3x3_reduce", s.in, s.c3r, 1, 1, 0, frozen)
	m.b3 = newCBR(s.name+"_3x3", s.c3r, s.c3, 3, stride, 1, frozen)
	m.dr = newCBR(s.name+"_double_3x3_reduce", s.in, s.cdr, 1, 1, 0, frozen)
	m.d1 = newCBR(s.name+"_double_3x3_1", s.cdr, s.cd1, 3, 1, 1, frozen)
	m.d2 = newCBR(s.name+"_double_3x3_2", s.cd1, s.cd2, 3, stride, 1, frozen)
	if !red {
		m.proj = newCBR(s.name+"_pool_proj", s.in, s.proj, 1, 1, 0, frozen)
	}
	return m
}

func (m *inception) units() []*cbr {
	var out []*cbr
	for _, u := range []*cbr{m.b1, m.b3r, m.b3, m.dr, m.d1, m.d2, m.proj} {
		if u != nil {
			out = append(out, u)
		}
	}
	return out
}

func (m *inception) forward(x *torch.Tensor, train bool) *torch.Tensor {
	b3 := m.b3.forward(m.b3r.forward(x, train), train)
	d := m.d2.forward(m.d1.forward(m.dr.forward(x, train), train), train)
	if m.b1 == nil { // reduction: [3x3, double 3x3, max pool]
		pool := torch.MaxPool2d(x, [2]int64{3, 3}, [2]int64{2, 2}, [2]int64{0, 0}, true)
		return torch.Cat([]*torch.Tensor{b3, d, pool}, 1)
	}
	var pool *torch.Tensor
	if m.spec.maxPool {
		pool = torch.MaxPool2d(x, [2]int64{3, 3}, [2]int64{1, 1}, [2]int64{1, 1}, true)
	} else {
		pool = torch.AvgPool2d(x, [2]int64{3, 3}, [2]int64{1, 1}, [2]int64{1, 1}, true)
	}
	return torch.Cat([]*torch.Tensor{m.b1.forward(x, train), b3, d, m.proj.forward(pool, train)}, 1)
}

var bninceptionBackbone = Backbone{
	Name:      "bninception",
	Modifiers: []string{"frozen", "normalize", "double", "lp2", "lp3"},
	Doc:       "pretrainedmodels' BN-Inception, 1024 pooled features, ImageNet-pretrained in the original (which always loads the weights; dmlrun honours not_pretrained).",
	Weights:   "bn_inception-239d2248",
	build: func(a Arch) (trunk, int64, error) {
		n, f := newBNInception(a.Frozen)
		return n, f, nil
	},
}

type bnInception struct {
	stem    []*cbr
	modules []*inception
}

// newBNInception constructs the trunk in pretrainedmodels' order, then the 1000-way
// last_linear (generator draws only, like the ResNets' fc).
func newBNInception(frozen bool) (*bnInception, int64) {
	n := &bnInception{stem: []*cbr{
		newCBR("conv1_7x7_s2", 3, 64, 7, 2, 3, frozen),
		newCBR("conv2_3x3_reduce", 64, 64, 1, 1, 0, frozen),
		newCBR("conv2_3x3", 64, 192, 3, 1, 1, frozen),
	}}
	for _, s := range bnInceptionSpecs {
		n.modules = append(n.modules, newInception(s, frozen))
	}
	fc := newLinearDefault(1024, 1000)
	fc.W.Close()
	fc.B.Close()
	return n, 1024
}

func (n *bnInception) register(b *builder) {
	for _, c := range n.stem {
		c.register(b)
	}
	for _, m := range n.modules {
		for _, u := range m.units() {
			u.register(b)
		}
	}
}

// forward returns the 1024-channel feature map (7x7 for 224 input).
func (n *bnInception) forward(x *torch.Tensor, train bool) *torch.Tensor {
	x = n.stem[0].forward(x, train)
	x = torch.MaxPool2d(x, [2]int64{3, 3}, [2]int64{2, 2}, [2]int64{0, 0}, true)
	x = n.stem[2].forward(n.stem[1].forward(x, train), train)
	x = torch.MaxPool2d(x, [2]int64{3, 3}, [2]int64{2, 2}, [2]int64{0, 0}, true)
	for _, m := range n.modules {
		x = m.forward(x, train)
	}
	return x
}

// lpPool is F.lp_pool2d over the whole map for non-negative x: (sum x^p)^(1/p).
func lpPool(x *torch.Tensor, p float64) *torch.Tensor {
	return x.PowScalar(p).SumDim([]int64{2, 3}, true).PowScalar(1 / p)
}
