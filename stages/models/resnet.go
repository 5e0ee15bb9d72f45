package models

import (
	"fmt"

	"dmlrun/torch"
)

var resnet50Backbone = Backbone{
	Name:      "resnet50",
	Modifiers: []string{"frozen", "normalize", "double"},
	Doc:       "torchvision's ResNet50 (bottleneck stride on the 3x3 conv), 2048 pooled features, ImageNet-pretrained in the original.",
	Weights:   "resnet50-19c8e357",
	build:     func(a Arch) (trunk, int64, error) { return newResNet(50, a.Frozen) },
}

var resnet18Backbone = Backbone{
	Name:      "resnet18",
	Modifiers: []string{"frozen", "normalize", "double"},
	Doc:       "torchvision's ResNet18, 512 pooled features, ImageNet-pretrained in the original.",
	Weights:   "resnet18-5c106cde",
	build:     func(a Arch) (trunk, int64, error) { return newResNet(18, a.Frozen) },
}

// block is a torchvision BasicBlock (ResNet18) or Bottleneck (ResNet50, stride on the 3x3).
type block struct {
	convs      []*conv // 2 (basic) or 3 (bottleneck)
	bns        []*bn
	downConv   *conv // nil without downsample
	downBN     *bn
	bottleneck bool
}

func (bl *block) forward(x *torch.Tensor, train bool) *torch.Tensor {
	out := x
	n := len(bl.convs)
	for i := 0; i < n; i++ {
		out = bl.bns[i].forward(bl.convs[i].forward(out), train)
		if i < n-1 {
			out = out.Relu()
		}
	}
	identity := x
	if bl.downConv != nil {
		identity = bl.downBN.forward(bl.downConv.forward(x), train)
	}
	return out.Add(identity).Relu()
}

// resnet is the torchvision ResNet trunk without avgpool and fc.
type resnet struct {
	conv1  *conv
	bn1    *bn
	layers [4][]*block
}

// newResNet constructs the trunk in torchvision's order, consuming the CPU generator exactly
// as torchvision.models.resnet18/50() does (reference §13 item 2): every conv's default
// reset in construction order (a stage's downsample conv before its first block), the
// 1000-way fc's default reset, then kaiming-normal re-init of all convs in module order.
// The fc is built only for its generator draws and then dropped.
func newResNet(depth int, frozen bool) (*resnet, int64, error) {
	var counts [4]int
	var bottleneck bool
	switch depth {
	case 18:
		counts = [4]int{2, 2, 2, 2}
	case 50:
		counts = [4]int{3, 4, 6, 3}
		bottleneck = true
	default:
		return nil, 0, fmt.Errorf("models: no ResNet%d (have 18 and 50)", depth)
	}
	expansion := int64(1)
	if bottleneck {
		expansion = 4
	}
	r := &resnet{conv1: newConvDefault(64, 3, 7, 2, 3), bn1: newBN(64, frozen)}
	inplanes := int64(64)
	for li, planes := range []int64{64, 128, 256, 512} {
		stride := int64(1)
		if li > 0 {
			stride = 2
		}
		for bi := 0; bi < counts[li]; bi++ {
			bl := &block{bottleneck: bottleneck}
			s := int64(1)
			if bi == 0 {
				s = stride
				if stride != 1 || inplanes != planes*expansion {
					bl.downConv = newConvDefault(planes*expansion, inplanes, 1, stride, 0)
					bl.downBN = newBN(planes*expansion, frozen)
				}
			}
			if bottleneck {
				bl.convs = []*conv{
					newConvDefault(planes, inplanes, 1, 1, 0),
					nil, nil,
				}
				bl.bns = []*bn{newBN(planes, frozen), nil, nil}
				bl.convs[1] = newConvDefault(planes, planes, 3, s, 1)
				bl.bns[1] = newBN(planes, frozen)
				bl.convs[2] = newConvDefault(planes*expansion, planes, 1, 1, 0)
				bl.bns[2] = newBN(planes*expansion, frozen)
			} else {
				bl.convs = []*conv{newConvDefault(planes, inplanes, 3, s, 1), nil}
				bl.bns = []*bn{newBN(planes, frozen), nil}
				bl.convs[1] = newConvDefault(planes, planes, 3, 1, 1)
				bl.bns[1] = newBN(planes, frozen)
			}
			inplanes = planes * expansion
			r.layers[li] = append(r.layers[li], bl)
		}
	}
	featDim := 512 * expansion
	fc := newLinearDefault(featDim, 1000) // generator draws only, as torchvision's fc
	fc.W.Close()
	fc.B.Close()
	// torchvision: for m in self.modules(): Conv2d -> kaiming_normal_(fan_out, relu).
	r.conv1.kaimingNormalFanOut()
	for li := range r.layers {
		for _, bl := range r.layers[li] {
			for _, c := range bl.convs {
				c.kaimingNormalFanOut()
			}
			if bl.downConv != nil {
				bl.downConv.kaimingNormalFanOut()
			}
		}
	}
	return r, featDim, nil
}

// register lists the trunk's tensors under torchvision's state-dict names.
func (r *resnet) register(b *builder) {
	b.param("conv1.weight", &r.conv1.W)
	r.bn1.register(b, "bn1")
	for li := range r.layers {
		for bi, bl := range r.layers[li] {
			p := fmt.Sprintf("layer%d.%d", li+1, bi)
			for i := range bl.convs {
				b.param(fmt.Sprintf("%s.conv%d.weight", p, i+1), &bl.convs[i].W)
				bl.bns[i].register(b, fmt.Sprintf("%s.bn%d", p, i+1))
			}
			if bl.downConv != nil {
				b.param(p+".downsample.0.weight", &bl.downConv.W)
				bl.downBN.register(b, p+".downsample.1")
			}
		}
	}
}

// forward returns the feature map F (B x 512*expansion x H/32 x W/32).
func (r *resnet) forward(x *torch.Tensor, train bool) *torch.Tensor {
	x = r.bn1.forward(r.conv1.forward(x), train).Relu()
	x = torch.MaxPool2d(x, [2]int64{3, 3}, [2]int64{2, 2}, [2]int64{1, 1}, false)
	for li := range r.layers {
		for _, bl := range r.layers[li] {
			x = bl.forward(x, train)
		}
	}
	return x
}
