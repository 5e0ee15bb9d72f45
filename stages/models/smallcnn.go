package models

import (
	"fmt"

	"dmlrun/torch"
)

var smallcnnBackbone = Backbone{
	Name:      "smallcnn",
	Modifiers: []string{"frozen", "normalize", "double"},
	Doc:       "dmlrun's small from-scratch CNN (four 3x3 conv-BN-ReLU stages, 128 pooled features) for CPU runs and tests; see the package documentation.",
	build: func(a Arch) (trunk, int64, error) {
		s, f := newSmallCNN(a.Frozen)
		return s, f, nil
	},
}

// smallCNN is the from-scratch network documented in doc.go.
type smallCNN struct {
	convs []*conv
	bns   []*bn
}

func newSmallCNN(frozen bool) (*smallCNN, int64) {
	s := &smallCNN{}
	in := int64(3)
	for _, out := range []int64{16, 32, 64, 128} {
		s.convs = append(s.convs, newConvDefault(out, in, 3, 1, 1))
		s.bns = append(s.bns, newBN(out, frozen))
		in = out
	}
	for _, c := range s.convs {
		c.kaimingNormalFanOut()
	}
	return s, in
}

func (s *smallCNN) register(b *builder) {
	for i := range s.convs {
		b.param(fmt.Sprintf("conv%d.weight", i+1), &s.convs[i].W)
		s.bns[i].register(b, fmt.Sprintf("bn%d", i+1))
	}
}

func (s *smallCNN) forward(x *torch.Tensor, train bool) *torch.Tensor {
	for i := range s.convs {
		x = s.bns[i].forward(s.convs[i].forward(x), train).Relu()
		if i < len(s.convs)-1 {
			x = torch.MaxPool2d(x, [2]int64{2, 2}, [2]int64{2, 2}, [2]int64{0, 0}, false)
		}
	}
	return x
}
