package nir

import (
	"math"
	"math/rand/v2"
	"testing"

	"dmlrun/torch"
)

// TestFloatMax: torch.finfo(dt).max for the float dtypes (values from PyTorch 1.13), and
// each fits its dtype exactly (masked_fill refuses a value that overflows the tensor's type).
func TestFloatMax(t *testing.T) {
	s := torch.NewScope()
	defer s.Close()
	for _, c := range []struct {
		dt   torch.DType
		want float64
	}{
		{torch.Float64, math.MaxFloat64}, {torch.Float32, 3.4028234663852886e38},
		{torch.BFloat16, 3.3895313892515355e38}, {torch.Float16, 65504},
	} {
		if got := FloatMax(c.dt); got != c.want {
			t.Errorf("FloatMax(%v) = %g, want %g", c.dt, got, c.want)
		}
		z := torch.Zeros([]int64{2}, c.dt, torch.CPUDevice)
		m, _ := torch.FromBool([]bool{true, false}, 2)
		v := values(t, z.MaskedFill(m, -FloatMax(c.dt)))
		if v[0] != -c.want || v[1] != 0 {
			t.Errorf("%v: masked fill with its min gives %v", c.dt, v)
		}
	}
}

// TestMaskedLogSumExpOwnDType: the masking value is the input dtype's own minimum (the
// original's torch.finfo(dtype).min), so a bfloat16 input (autocast) works and float64
// stays float64; values and gradients match the float64 formula.
func TestMaskedLogSumExpOwnDType(t *testing.T) {
	s := torch.NewScope()
	defer s.Close()
	vals := []float64{1, -2, 3, 0.5, -1, 2.5, 0.25, 4, -3, 1.5, 2, -0.5}
	mask := []bool{true, false, true, false, false, true, false, false, true, true, false, false}
	// dim 0 over a 3x4 matrix: columns {1,-3}, {}, {3,-1}, {0.5,2.5}... per mask
	want := make([]float64, 4)
	for j := 0; j < 4; j++ {
		var sum float64
		any := false
		for i := 0; i < 3; i++ {
			if mask[i*4+j] {
				any = true
				sum += math.Exp(vals[i*4+j])
			}
		}
		if any {
			want[j] = math.Log(1 + sum)
		}
	}
	m, _ := torch.FromBool(mask, 3, 4)
	for _, c := range []struct {
		dt  torch.DType
		tol float64
	}{{torch.Float64, 1e-14}, {torch.BFloat16, 3e-2}} {
		x := f32Tensor(t, vals, 3, 4).ToDType(c.dt).SetRequiresGrad(true)
		out := MaskedLogSumExp(x, m, 0)
		if out.DType() != c.dt {
			t.Fatalf("%v input: output %v", c.dt, out.DType())
		}
		got := values(t, out)
		for j := range want {
			if math.Abs(got[j]-want[j]) > c.tol*math.Max(1, want[j]) {
				t.Errorf("%v: column %d = %g, want %g", c.dt, j, got[j], want[j])
			}
		}
		out.Sum().Backward()
		for i, g := range values(t, x.Grad()) {
			if math.IsNaN(g) || math.IsInf(g, 0) || (!mask[i] && g != 0) {
				t.Errorf("%v: gradient %d = %g", c.dt, i, g)
			}
		}
	}
}

// TestProxyAnchorBFloat16: the ProxyAnchor term in bfloat16 (as under CPU/CUDA autocast)
// agrees with float32 to bfloat16 precision.
func TestProxyAnchorBFloat16(t *testing.T) {
	s := torch.NewScope()
	defer s.Close()
	r := rand.New(rand.NewPCG(3, 4))
	x := randTensor(t, r, torch.Float32, 8, 6)
	p := randTensor(t, r, torch.Float32, 5, 6).MulScalar(0.125)
	lab := labelTensor(t, 0, 0, 1, 1, 2, 2, 4, 4)
	want := ProxyAnchor(x, p, lab, DefaultProxyHP()).Item()
	got := ProxyAnchor(x.ToDType(torch.BFloat16), p.ToDType(torch.BFloat16), lab, DefaultProxyHP())
	if got.DType() != torch.BFloat16 || math.Abs(got.Item()-want) > 0.02*math.Max(1, want) {
		t.Fatalf("bf16 ProxyAnchor %v %g, float32 %g", got.DType(), got.Item(), want)
	}
}
