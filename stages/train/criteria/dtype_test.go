package criteria

import (
	"math"
	"testing"

	"dmlrun/torch"
)

// TestMaskingInOwnDType: the masked log-sum-exp and multisimilarity's mining bounds use the
// similarities' own dtype limits (the original's torch.finfo(dtype)), so a float64 batch
// keeps float64 and matches float32, and bfloat16 autocast on the CPU (similarities in
// bfloat16) gives finite losses close to float32's instead of a masked_fill overflow.
func TestMaskingInOwnDType(t *testing.T) {
	s := torch.NewScope()
	defer s.Close()
	torch.ManualSeed(3)
	x := torch.Randn([]int64{8, 6}, torch.Float32, torch.CPUDevice).Normalize(2, 1, 1e-12)
	lab, _ := torch.FromInt64([]int64{0, 0, 1, 1, 2, 2, 3, 3}, 8)

	ms, err := New("multisimilarity", defaults("multisimilarity"), 6, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := ms.Loss(Batch{Embeds: x, Labels: lab}).Item()
	l64 := ms.Loss(Batch{Embeds: x.ToDType(torch.Float64), Labels: lab})
	if l64.DType() != torch.Float64 || !closeEnough(l64.Item(), want, 1e-5) {
		t.Errorf("multisimilarity float64: %v %.9g, float32 %.9g", l64.DType(), l64.Item(), want)
	}

	for _, kind := range []string{"multisimilarity", "oproxy"} {
		torch.ManualSeed(5)
		c, err := New(kind, defaults(kind), 6, 4, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer Close(c)
		emb := x.Detach().SetRequiresGrad(true)
		want := c.Loss(Batch{Embeds: emb, Labels: lab}).Item()
		var l *torch.Tensor
		torch.Autocast(torch.CPUDevice, torch.BFloat16, func() {
			l = c.Loss(Batch{Embeds: emb, Labels: lab})
		})
		got := l.Item()
		if math.IsNaN(got) || math.IsInf(got, 0) || !closeEnough(got, want, 0.03) {
			t.Errorf("%s under bf16 autocast: loss %v (%v), float32 %v", kind, got, l.DType(), want)
		}
		l.ToDType(torch.Float32).Backward()
		g, _ := emb.Grad().Float64s()
		for i, v := range g {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("%s under bf16 autocast: gradient %d = %v", kind, i, v)
			}
		}
	}
}
