package devstep

import (
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"testing"

	"dmlrun/internal/tol"
	"dmlrun/torch"
)

// uTF32 is TF32's unit roundoff: cuDNN runs float32 convolutions in TF32 by default on
// Ampere and newer GPUs (PyTorch's torch.backends.cudnn.allow_tf32 = True, which the shim
// does not change), rounding both operands to 10 mantissa bits.
const uTF32 = 0x1p-11

// trainCase is one CPU-vs-device comparison of the training step.
type trainCase struct {
	size, batch int64
	steps       int
}

// TestCUDATrainResNet18: 20 training steps of resnet18_frozen_normalize at 64 px (batch
// 32, 16 classes x 2, ProxyAnchor with the original's alpha 32 and delta 0.1, Adam lr 1e-5
// wd 4e-4, proxies lr 0.02, the always-on grad scaler) on cuda:0 against the same steps on
// the CPU, from the same initial weights (drawn on the CPU generator) and the same random
// batches. The cpu subtest runs a small version (32 px, batch 8, 3 steps) on the CPU with
// one thread against the CPU with all threads, which exercises the comparison everywhere.
//
// Tolerances (stated in the results file):
//   - step 0, identical weights: every embedding (unit vector) within
//     tolEmb = 2·L·(2·u_conv + sqrt(k)·eps32) in L2 of the CPU's, L = 18 layers on the
//     longest path, k = 4608 (3·3·512, the longest dot product), u_conv = 2^-11 on CUDA
//     (TF32 operands), 0 between two CPU runs; the factor 2 covers frozen-BN scaling and
//     residual sums.
//   - step 0 gradients, per tensor, norm-wise relative: 2·α·max_i|Δe_i| (the loss's
//     weights exp(α·s) change relatively by α·Δs) + 2·(2L)·(2·u_conv + sqrt(k)·eps32)
//     (forward and backward through the network).
//   - every step s: |ΔL_s| <= 2α·(max_i|Δe_i(s)| + max_c|Δp̂_c(s)|) + 16·eps32·(1+|L|):
//     ProxyAnchor's Lipschitz constant in the similarities is 2α (its positive and its
//     negative term each move by at most α·max|Δs|), the similarities move by at most the
//     embeddings' and normalised proxies' differences measured at that step, and the
//     loss's own float32 rounding. It holds however far the two runs have drifted apart.
//   - the drift itself (embedding and weight-update differences after 20 steps) is
//     reported, not asserted: Adam normalises each gradient element, so elements whose
//     gradient is at rounding level move by ±lr on either device.
func TestCUDATrainResNet18(t *testing.T) {
	for _, dev := range []torch.Device{torch.CPUDevice, {Kind: torch.CUDA}} {
		t.Run(dev.String(), func(t *testing.T) {
			c := trainCase{size: 32, batch: 8, steps: 3}
			if dev.IsCUDA() {
				if !torch.CUDAAvailable() {
					t.Skipf("no CUDA device visible to libtorch %s", torch.Version())
				}
				c = trainCase{size: 64, batch: 32, steps: 20}
			}
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			threads := torch.NumThreads()
			defer torch.SetNumThreads(threads)
			s := torch.NewScope()
			defer s.Close()
			if err := torch.Catch(func() error { trainParity(t, dev, c); return nil }); err != nil {
				t.Fatal(err)
			}
		})
	}
}

const alpha = 32 // oproxy's pos_alpha and neg_alpha defaults (the original's)

func newStep(t *testing.T, dev torch.Device, classes int) *Step {
	t.Helper()
	torch.ManualSeed(0)
	s, err := New(Config{Arch: "resnet18_frozen_normalize", EmbedDim: 128, Classes: classes, Loss: "oproxy",
		LR: 1e-5, Decay: 4e-4, Device: dev, Autocast: torch.Float32})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// rowDiff is the largest L2 distance between matching rows of two B x D float64 slices.
func rowDiff(a, b []float64, d int) float64 {
	worst := 0.0
	for i := 0; i+d <= len(a); i += d {
		var s float64
		for j := i; j < i+d; j++ {
			s += (a[j] - b[j]) * (a[j] - b[j])
		}
		worst = math.Max(worst, math.Sqrt(s))
	}
	return worst
}

func vals(t *testing.T, x *torch.Tensor) []float64 {
	t.Helper()
	v, err := x.ToDType(torch.Float32).Float64s()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// normProxies returns the row-normalised proxies of a step (its last parameter).
func normProxies(t *testing.T, s *Step) []float64 {
	_, ps := s.Params()
	return vals(t, ps[len(ps)-1].Detach().Normalize(2, -1, 1e-12))
}

func relNorm(a, b []float64) float64 {
	var d, n float64
	for i := range a {
		d += (a[i] - b[i]) * (a[i] - b[i])
		n += b[i] * b[i]
	}
	if n == 0 {
		return math.Sqrt(d)
	}
	return math.Sqrt(d / n)
}

func logParity(t *testing.T, dev torch.Device, quantity string, diff, bound float64, what string) {
	t.Helper()
	rec, _ := json.Marshal(map[string]any{"test": "train resnet18_frozen_normalize", "device": dev.String(), "quantity": quantity,
		"max_diff": diff, "tolerance": what, "worst_ratio": diff / bound})
	t.Logf("parity: %s", rec)
}

func trainParity(t *testing.T, dev torch.Device, c trainCase) {
	classes := int(c.batch / 2)
	const L, k = 18, 4608
	uConv, refThreads, devThreads := uTF32, torch.NumThreads(), torch.NumThreads()
	if !dev.IsCUDA() {
		uConv, refThreads = 0, 1
	}
	layer := 2*uConv + math.Sqrt(k)*tol.Eps32
	tolEmb := 2 * L * layer

	torch.SetNumThreads(refThreads)
	ref := newStep(t, torch.CPUDevice, classes)
	torch.SetNumThreads(devThreads)
	got := newStep(t, dev, classes)
	_, refParams := ref.Params()
	names, gotParams := got.Params()
	init := make([][]float64, len(refParams))
	for i, p := range refParams {
		init[i] = vals(t, p)
	}

	lab := make([]int64, c.batch)
	for i := range lab {
		lab[i] = int64(i / 2)
	}
	y, err := torch.FromInt64(lab, c.batch)
	if err != nil {
		t.Fatal(err)
	}
	yDev := y.To(dev)
	var lossRef, lossDev []float64
	worstLossRatio := 0.0
	for step := 0; step < c.steps; step++ {
		err := torch.WithScope(func() error {
			torch.ManualSeed(uint64(100 + step))
			x := torch.Randn([]int64{c.batch, 3, c.size, c.size}, torch.Float32, torch.CPUDevice)
			dp := rowDiff(normProxies(t, got), normProxies(t, ref), 128)
			torch.SetNumThreads(refThreads)
			rr := ref.Run(x, y)
			torch.SetNumThreads(devThreads)
			rg := got.Run(x.To(dev), yDev)
			if rr.Skipped || rg.Skipped {
				t.Errorf("step %d: skipped (cpu %v, %v %v)", step, rr.Skipped, dev, rg.Skipped)
			}
			lossRef, lossDev = append(lossRef, rr.Loss), append(lossDev, rg.Loss)
			de := rowDiff(vals(t, rg.Embeds), vals(t, rr.Embeds), 128)
			lossBound := 2*alpha*(de+dp) + 16*tol.Eps32*(1+math.Abs(rr.Loss))
			dl := math.Abs(rg.Loss - rr.Loss)
			worstLossRatio = math.Max(worstLossRatio, dl/lossBound)
			if !(dl <= lossBound) {
				t.Errorf("step %d: loss %.9g on %v, %.9g on the CPU: |diff| %.3g > 2α·(%.3g + %.3g) + rounding = %.3g",
					step, rg.Loss, dev, rr.Loss, dl, de, dp, lossBound)
			}
			switch step {
			case 0:
				if !(de <= tolEmb) {
					t.Errorf("step 0 (identical weights): embeddings differ by up to %.3g, tolerance %.3g", de, tolEmb)
				}
				logParity(t, dev, "embeddings, step 0 (max row L2)", de, tolEmb,
					fmt.Sprintf("2·L·(2·u_conv + sqrt(k)·eps32), L %d, k %d, u_conv %g: %.3g", L, k, uConv, tolEmb))
				gradTol := 2*alpha*de + 2*(2*L)*layer
				worst, worstName := 0.0, ""
				for i, p := range gotParams {
					gd, gr := p.Grad(), refParams[i].Grad()
					if gd == nil || gr == nil {
						t.Errorf("step 0: %s has no gradient (%v %v)", names[i], gd == nil, gr == nil)
						continue
					}
					d := relNorm(vals(t, gd), vals(t, gr))
					if d > worst {
						worst, worstName = d, names[i]
					}
					if !(d <= gradTol) {
						t.Errorf("step 0: gradient of %s differs by %.3g (norm-wise relative), tolerance %.3g", names[i], d, gradTol)
					}
				}
				logParity(t, dev, "gradients, step 0 (worst tensor "+worstName+", norm-wise relative)", worst, gradTol,
					fmt.Sprintf("2·α·max|Δe| + 4·L·(2·u_conv + sqrt(k)·eps32) = %.3g", gradTol))
			case c.steps - 1:
				logParity(t, dev, fmt.Sprintf("embeddings, step %d (drift, reported)", step), de, tolEmb, "reported only (compare with step 0's tolerance)")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	rec, _ := json.Marshal(map[string]any{"test": "train resnet18_frozen_normalize", "device": dev.String(),
		"quantity": fmt.Sprintf("loss at each of %d steps", c.steps), "max_diff": maxAbsDiff(lossDev, lossRef),
		"worst_ratio": worstLossRatio, "loss_cpu": lossRef, "loss_device": lossDev,
		"tolerance": "2α·(max|Δe_i| + max|Δp̂_c|) + 16·eps32·(1+|L|) per step, α = 32"})
	t.Logf("parity: %s", rec)
	// weight updates after the last step: reported
	worst, worstName := 0.0, ""
	for i, p := range gotParams {
		g, r := vals(t, p), vals(t, refParams[i])
		for j := range g {
			g[j] -= init[i][j]
			r[j] -= init[i][j]
		}
		if d := relNorm(g, r); d > worst {
			worst, worstName = d, names[i]
		}
	}
	logParity(t, dev, fmt.Sprintf("weight update after %d steps (worst tensor %s, norm-wise relative, reported)", c.steps, worstName), worst, 1, "reported only")
}

func maxAbsDiff(a, b []float64) float64 {
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(a[i]-b[i]))
	}
	return m
}
