package nir

import (
	"math"
	"sort"
	"strings"
	"testing"

	"dmlrun/torch"
)

// zeroFlowExceptLastBias sets every flow weight and bias to zero except the last-layer
// biases, so each subnet outputs its last bias whatever its input: s = clamp*0.636*atan(b_s),
// t = b_t. With zero biases the flow is a pure permutation (identity up to channel order).
func zeroFlowExceptLastBias(t *testing.T, c *Criterion, lastBias func(block, subnet, n int) []float64) {
	t.Helper()
	names, ts := c.Named()
	vals := map[string]*torch.Tensor{}
	for i, n := range names {
		vals[n] = torch.Zeros(ts[i].Shape(), torch.Float32, torch.CPUDevice)
	}
	last := 2 * (c.cfg.Depth - 1)
	for k := 0; k < c.cfg.Blocks; k++ {
		for s := 1; s <= 2; s++ {
			name := "flow.block" + itoa(k) + ".subnet" + itoa(s) + "." + itoa(last) + ".bias"
			n := int(vals[name].Numel())
			if lastBias != nil {
				vals[name] = f32Tensor(t, lastBias(k, s, n), int64(n))
			}
		}
	}
	vals["proxies"] = ts[0] // keep the proxies
	if err := c.LoadNamed(vals); err != nil {
		t.Fatal(err)
	}
}

func TestInspectIdentityFlowIsIsotropic(t *testing.T) {
	s := torch.NewScope()
	defer s.Close()
	torch.ManualSeed(0)
	cfg := smallConfig(8, 3, CondDense)
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	zeroFlowExceptLastBias(t, c, nil)
	torch.ManualSeed(1)
	rep, err := Inspect(c, []int{0, 2}, 20000)
	if err != nil {
		t.Fatal(err)
	}
	for _, cr := range rep.Classes {
		for _, e := range cr.Eigen {
			if math.Abs(e-1) > 0.06 {
				t.Errorf("class %d: eigenvalue %g of N(0,I) samples, want ~1", cr.Class, e)
			}
		}
		if cr.KLUniform > 1e-3 || cr.EffectiveRank < 7.98 || cr.Condition > 1.15 || cr.MeanNorm > 0.05 {
			t.Errorf("class %d not reported isotropic: %+v", cr.Class, cr)
		}
	}
	out := rep.String()
	t.Log("\n" + out)
	if !strings.Contains(out, "eff.rank") || strings.Count(out, "\n") != 5 {
		t.Errorf("report text:\n%s", out)
	}
}

func TestInspectKnownAnisotropy(t *testing.T) {
	s := torch.NewScope()
	defer s.Close()
	torch.ManualSeed(0)
	cfg := smallConfig(8, 3, CondDense)
	cfg.Blocks = 1
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Block 0: subnet2's last bias holds (a_s2 [d1], t2 [d1]), subnet1's (a_s1 [d2], t1 [d2]).
	as := map[int][]float64{2: {-1.5, -0.8, -0.3, 0}, 1: {0.2, 0.6, 1.0, 2.0}}
	shift := []float64{0.5, -0.5, 1, 0}
	zeroFlowExceptLastBias(t, c, func(block, subnet, n int) []float64 {
		return append(append([]float64(nil), as[subnet]...), shift...)
	})
	// x = Reverse(z): each coordinate is z_i * exp(-s_i) + const, so the covariance is
	// diagonal with entries exp(-2 s_i), s = 2 * 0.636 * atan(a) (permutation only reorders).
	var want []float64
	for _, sub := range []int{1, 2} {
		for _, a := range as[sub] {
			sc := 2 * float64(float32(0.636)) * math.Atan(a)
			want = append(want, math.Exp(-2*sc))
		}
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(want)))
	torch.ManualSeed(3)
	rep, err := Inspect(c, []int{1}, 40000)
	if err != nil {
		t.Fatal(err)
	}
	cr := rep.Classes[0]
	for i := range want {
		if math.Abs(cr.Eigen[i]-want[i]) > 0.04*want[i] {
			t.Errorf("eigenvalue %d = %g, want %g", i, cr.Eigen[i], want[i])
		}
	}
	wantCond := want[0] / want[len(want)-1]
	if math.Abs(cr.Condition-wantCond) > 0.08*wantCond {
		t.Errorf("condition %g want %g", cr.Condition, wantCond)
	}
	var tr, h float64
	for _, w := range want {
		tr += w
	}
	for _, w := range want {
		h -= w / tr * math.Log(w/tr)
	}
	if math.Abs(cr.KLUniform-(math.Log(8)-h)) > 0.02 || math.Abs(cr.EffectiveRank-math.Exp(h)) > 0.05 {
		t.Errorf("KL %g eff.rank %g; want %g, %g", cr.KLUniform, cr.EffectiveRank, math.Log(8)-h, math.Exp(h))
	}
	if _, err := Inspect(c, []int{3}, 10); err == nil {
		t.Error("class out of range not reported")
	}
}
