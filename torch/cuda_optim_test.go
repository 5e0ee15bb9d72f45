package torch_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"dmlrun/internal/tol"
	"dmlrun/torch"
	"dmlrun/torch/optim"
)

// TestCUDAAdamGradScaler is the CUDA variant of torch/optim's tests: the GradScaler and
// Adam step of stages/train (scale 2^16, unscale, finite check, coupled L2, Adam) with
// parameters on the device in float32, against the same optimiser on float64 CPU tensors.
// The gradient is a constant (the loss is <p, g>), scaled and unscaled by powers of two,
// so only Adam's elementwise arithmetic rounds: after S steps each parameter is within
// Σ_s 16·eps32·|Δp_s| + S·eps32·|p| of the reference (Δp_s the reference's update of step
// s, eps32·|p| the rounding of p + Δp). A step with an infinite gradient must be skipped
// and halve the scale on every device. The cpu subtest runs everywhere; cuda:0 skips
// without a GPU.
func TestCUDAAdamGradScaler(t *testing.T) {
	for _, dev := range []torch.Device{torch.CPUDevice, {Kind: torch.CUDA}} {
		t.Run(dev.String(), func(t *testing.T) {
			if dev.IsCUDA() && !torch.CUDAAvailable() {
				t.Skipf("no CUDA device visible to libtorch %s", torch.Version())
			}
			s := torch.NewScope()
			defer s.Close()
			if err := torch.Catch(func() error { adamParity(t, dev); return nil }); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func adamParity(t *testing.T, dev torch.Device) {
	r := rand.New(rand.NewPCG(15, 4))
	vals := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = float64(float32(r.NormFloat64()))
		}
		return v
	}
	const steps = 5
	p0, g0, q0, h0 := vals(300), vals(300), vals(20), vals(20)
	type run struct {
		params  []*torch.Tensor
		history [][]float64 // parameter values after each step, both groups concatenated
		skipped []bool
		scale   float64
	}
	do := func(d torch.Device, dt torch.DType) run {
		mk := func(v []float64) *torch.Tensor {
			x, err := torch.FromFloat64(v, int64(len(v)))
			if err != nil {
				t.Fatal(err)
			}
			return x.ToDType(dt).To(d).SetRequiresGrad(true).Unscope()
		}
		p, q := mk(p0), mk(q0)
		gp, _ := torch.FromFloat64(g0, int64(len(g0)))
		gq, _ := torch.FromFloat64(h0, int64(len(h0)))
		gp, gq = gp.ToDType(dt).To(d), gq.ToDType(dt).To(d)
		adam := optim.NewAdam([]optim.Group{{Name: "network", Params: []*torch.Tensor{p}, LR: 1e-3, WeightDecay: 4e-4},
			{Name: "proxies", Params: []*torch.Tensor{q}, LR: 0.02}}, 0.9, 0.999, 1e-8)
		t.Cleanup(adam.Close)
		sc := optim.NewGradScaler()
		out := run{params: []*torch.Tensor{p, q}}
		for s := 0; s <= steps; s++ {
			err := torch.WithScope(func() error {
				adam.ZeroGrad()
				loss := p.Mul(gp).Sum().Add(q.Mul(gq).Sum())
				if s == 2 {
					loss = loss.MulScalar(math.Inf(1)) // an overflowing step: skipped
				}
				sc.Scale(loss).Backward()
				out.skipped = append(out.skipped, sc.Step(adam))
				sc.Update()
				a, _ := p.Float64s()
				b, _ := q.Float64s()
				out.history = append(out.history, append(a, b...))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		out.scale = sc.ScaleValue()
		return out
	}
	want := do(torch.CPUDevice, torch.Float64)
	got := do(dev, torch.Float32)
	for _, pr := range got.params {
		if pr.Device() != dev {
			t.Fatalf("parameter moved to %v", pr.Device())
		}
	}
	if fmt.Sprint(got.skipped) != fmt.Sprint(want.skipped) || !got.skipped[2] || got.scale != want.scale || got.scale != 32768 {
		t.Fatalf("skipped steps %v scale %v, reference %v scale %v (want step 2 skipped, scale 2^15)", got.skipped, got.scale, want.skipped, want.scale)
	}
	prev := append(append([]float64{}, p0...), q0...)
	bound := make([]float64, len(prev))
	worstRatio, worstDiff := 0.0, 0.0
	for s := range want.history {
		for i, v := range want.history[s] {
			bound[i] += 16*tol.Eps32*math.Abs(v-prev[i]) + tol.Eps32*math.Abs(v)
			d := math.Abs(got.history[s][i] - v)
			worstDiff = math.Max(worstDiff, d)
			if d > 0 {
				worstRatio = math.Max(worstRatio, d/bound[i])
			}
			if !(d <= bound[i]) {
				t.Fatalf("step %d parameter %d: %.9g, reference %.9g (|diff| %.3g > %.3g)", s, i, got.history[s][i], v, d, bound[i])
			}
		}
		prev = want.history[s]
	}
	rec, _ := json.Marshal(map[string]any{"test": "adam+gradscaler", "device": dev.String(), "quantity": fmt.Sprintf("parameters after %d steps", steps+1),
		"max_diff": worstDiff, "tolerance": "Σ_s 16·eps32·|Δp_s| + S·eps32·|p| per element", "worst_ratio": worstRatio})
	t.Logf("parity: %s", rec)
}
