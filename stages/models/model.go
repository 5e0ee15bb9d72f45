package models

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"dmlrun/torch"
)

// Output is what a forward pass returns (reference §4.1's dict).
type Output struct {
	Embeds      *torch.Tensor // z: B x D (L2-normalised for "normalize" archs)
	AvgFeatures *torch.Tensor // y: B x F pooled features
	Features    *torch.Tensor // F: B x F x h x w feature map
}

type trunk interface {
	forward(x *torch.Tensor, train bool) *torch.Tensor
	register(b *builder)
}

// Model is a backbone, its pooling and the last_linear head.
//
// Its tensors live outside any torch scope and are owned by the Model until Close. Not safe
// for concurrent use (torch work is serialised process-wide anyway).
type Model struct {
	Arch    Arch
	Dim     int64 // embedding dimension D
	FeatDim int64 // pooled feature dimension F (2048 ResNet50, 512 ResNet18, 128 smallcnn)

	trunk   trunk
	head    *linear
	entries []entry
}

// New builds a model on dev with fresh weights. Call torch.ManualSeed first: construction
// draws from the CPU generator in torchvision's order (trunk, discarded 1000-way fc for the
// ResNets, then last_linear), so the weights equal the original's for the same seed.
// The model's tensors belong to no scope (New may be called inside one); Close the model
// when done.
func New(arch string, dim int64, dev torch.Device) (m *Model, err error) {
	a, err := ParseArch(arch)
	if err != nil {
		return nil, err
	}
	if dim <= 0 {
		return nil, fmt.Errorf("models: embed_dim must be positive, got %d", dim)
	}
	m = &Model{Arch: a, Dim: dim}
	b, _ := backboneNamed(a.Base)
	err = torch.WithScope(func() error {
		t, f, err := b.build(a)
		if err != nil {
			return err
		}
		m.trunk, m.FeatDim = t, f
		m.head = newLinearDefault(m.FeatDim, dim)
		b := &builder{}
		m.trunk.register(b)
		n := len(b.entries)
		b.param("last_linear.weight", &m.head.W)
		b.param("last_linear.bias", &m.head.B)
		for i := n; i < len(b.entries); i++ {
			b.entries[i].head = true
		}
		m.entries = b.entries
		// Move every tensor out of the construction scope (and onto dev), leaf tensors
		// that require grad when trainable.
		for _, e := range m.entries {
			t := *e.ptr
			if dev != cpu {
				t = t.To(dev)
			} else {
				t = t.Detach()
			}
			if e.trainable {
				t.SetRequiresGrad(true)
			}
			t.Unscope()
			*e.ptr = t
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Forward runs the network. train selects BatchNorm training mode for non-frozen archs;
// warmup runs trunk and pooling without gradient tracking so that only last_linear (and
// the normalisation after it) is in the autograd graph (reference §4.4).
func (m *Model) Forward(x *torch.Tensor, train, warmup bool) Output {
	var feat, y *torch.Tensor
	body := func() {
		feat = m.trunk.forward(x, train)
		y = torch.AdaptiveAvgPool2d(feat, [2]int64{1, 1})
		if m.Arch.Double {
			y = torch.AdaptiveMaxPool2d(feat, [2]int64{1, 1}).Add(y)
		}
		if m.Arch.Base == "bninception" { // the original sums LP pools in for bninception only
			if m.Arch.LP2 {
				y = y.Add(lpPool(feat, 2))
			}
			if m.Arch.LP3 {
				y = y.Add(lpPool(feat, 3))
			}
		}
		y = y.Flatten(1, -1)
	}
	if warmup {
		torch.NoGrad(body)
	} else {
		body()
	}
	z := m.head.forward(y)
	if m.Arch.Normalize {
		z = z.Normalize(2, -1, 1e-12)
	}
	return Output{Embeds: z, AvgFeatures: y, Features: feat}
}

// State returns the state dict (parameters and BN running statistics) in torchvision's
// key order, backbone first, then last_linear. The tensors are the model's own: callers
// must not close them.
func (m *Model) State() (names []string, ts []*torch.Tensor) {
	for _, e := range m.entries {
		names = append(names, e.name)
		ts = append(ts, *e.ptr)
	}
	return names, ts
}

// Params returns the trainable parameters; head selects last_linear (true) or the backbone
// (false). Order is state-dict order.
func (m *Model) Params(head bool) (names []string, ts []*torch.Tensor) {
	for _, e := range m.entries {
		if e.trainable && e.head == head {
			names = append(names, e.name)
			ts = append(ts, *e.ptr)
		}
	}
	return names, ts
}

// LoadState copies tensors into the model by name (in place, no autograd). Every state-dict
// name must be present in sd (with the same shape) and every key of sd must be known, except
// keys for which ignore returns true. Errors name all missing and unexpected keys.
func (m *Model) LoadState(sd map[string]*torch.Tensor, ignore func(string) bool) error {
	seen := map[string]bool{}
	var missing, unexpected, bad []string
	for _, e := range m.entries {
		src, ok := sd[e.name]
		if !ok {
			missing = append(missing, e.name)
			continue
		}
		seen[e.name] = true
		if !slices.Equal(src.Shape(), (*e.ptr).Shape()) {
			bad = append(bad, fmt.Sprintf("%s: file %v, model %v", e.name, src.Shape(), (*e.ptr).Shape()))
		}
	}
	for k := range sd {
		if !seen[k] && (ignore == nil || !ignore(k)) {
			unexpected = append(unexpected, k)
		}
	}
	sort.Strings(unexpected)
	var msgs []string
	if len(missing) > 0 {
		msgs = append(msgs, fmt.Sprintf("missing keys %s", strings.Join(missing, ", ")))
	}
	if len(unexpected) > 0 {
		msgs = append(msgs, fmt.Sprintf("unexpected keys %s", strings.Join(unexpected, ", ")))
	}
	if len(bad) > 0 {
		msgs = append(msgs, fmt.Sprintf("shape mismatch %s", strings.Join(bad, "; ")))
	}
	if len(msgs) > 0 {
		return fmt.Errorf("arch %s: %s", m.Arch.Name, strings.Join(msgs, "; "))
	}
	return torch.WithScope(func() error {
		for _, e := range m.entries {
			dst := *e.ptr
			dst.CopyFrom(sd[e.name].To(dst.Device()).ToDType(dst.DType()))
		}
		return nil
	})
}

// LoadPretrained loads a torchvision (or pretrainedmodels) ImageNet state dict from a .pth
// file into the backbone. The classifier (fc.* or last_linear.*) and BN num_batches_tracked
// entries are ignored; last_linear keeps its fresh init, as in the original.
func (m *Model) LoadPretrained(path string) error {
	sd, _, err := torch.LoadPth(path)
	if err != nil {
		return fmt.Errorf("pretrained weights %s: %w", path, err)
	}
	defer func() {
		for _, t := range sd {
			t.Close()
		}
	}()
	// The head is not in a pretrained file: give LoadState our own head so it is "present".
	full := make(map[string]*torch.Tensor, len(sd)+2)
	for k, v := range sd {
		if strings.HasPrefix(k, "last_linear.") {
			continue // pretrainedmodels' name for the 1000-way classifier
		}
		full[k] = v
	}
	full["last_linear.weight"] = m.head.W
	full["last_linear.bias"] = m.head.B
	if err := m.LoadState(full, func(k string) bool {
		return strings.HasPrefix(k, "fc.") || strings.HasSuffix(k, ".num_batches_tracked")
	}); err != nil {
		return fmt.Errorf("pretrained weights %s: %w", path, err)
	}
	return nil
}

// Close frees the model's tensors.
func (m *Model) Close() {
	for _, e := range m.entries {
		if *e.ptr != nil {
			(*e.ptr).Close()
		}
	}
}
