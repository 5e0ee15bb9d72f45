package optim

import (
	"fmt"
	"math"

	"dmlrun/torch"
)

// MultiStepLR is torch.optim.lr_scheduler.MultiStepLR: each group's learning rate is
// multiplied by gamma every time the epoch count reaches a milestone (a milestone listed
// twice applies gamma twice).
type MultiStepLR struct {
	opt        *Adam
	milestones map[int]int
	gamma      float64
	lastEpoch  int
}

// NewMultiStepLR attaches a scheduler to opt; like PyTorch it starts at epoch 0 with the
// groups' current learning rates.
func NewMultiStepLR(opt *Adam, milestones []int, gamma float64) *MultiStepLR {
	m := map[int]int{}
	for _, e := range milestones {
		m[e]++
	}
	return &MultiStepLR{opt: opt, milestones: m, gamma: gamma}
}

// Step advances one epoch and applies gamma when the new epoch is a milestone.
func (s *MultiStepLR) Step() {
	s.lastEpoch++
	n, ok := s.milestones[s.lastEpoch]
	if !ok {
		return
	}
	f := math.Pow(s.gamma, float64(n))
	for g := 0; g < s.opt.NumGroups(); g++ {
		s.opt.SetLR(g, s.opt.LR(g)*f)
	}
}

// LastEpoch returns the number of Step calls so far.
func (s *MultiStepLR) LastEpoch() int { return s.lastEpoch }

// SetLastEpoch restores the epoch counter from a checkpoint (learning rates are restored
// with the optimiser's state).
func (s *MultiStepLR) SetLastEpoch(e int) { s.lastEpoch = e }

// GradScaler is torch.cuda.amp.GradScaler's dynamic loss scaling: scale the loss, unscale
// the gradients before the step, skip steps whose gradients are not finite, and adapt the
// scale (halve on overflow, double after Interval clean steps). The zero value is ready
// to use with PyTorch's defaults, like NewGradScaler.
type GradScaler struct {
	scale         float64
	Growth        float64
	Backoff       float64
	Interval      int
	growthTracker int
	unscaled      bool
	foundInf      bool
}

// NewGradScaler returns a scaler with PyTorch's defaults: scale 65536, growth 2,
// backoff 0.5, interval 2000.
func NewGradScaler() *GradScaler {
	return &GradScaler{scale: 65536, Growth: 2, Backoff: 0.5, Interval: 2000}
}

// defaults fills in PyTorch's defaults for fields left zero.
func (g *GradScaler) defaults() {
	if g.scale == 0 {
		g.scale = 65536
	}
	if g.Growth == 0 {
		g.Growth = 2
	}
	if g.Backoff == 0 {
		g.Backoff = 0.5
	}
	if g.Interval == 0 {
		g.Interval = 2000
	}
}

// Scale returns loss * scale (a new tensor). PyTorch multiplies by its scale, a float32
// tensor of shape [1], which promotes a float16 or bfloat16 loss (from autocast) to
// float32; Scale does the same, so backward starts in float32. Other dtypes (float32, the
// float64 NIR loss) keep theirs.
func (g *GradScaler) Scale(loss *torch.Tensor) *torch.Tensor {
	g.defaults()
	if dt := loss.DType(); dt == torch.Float16 || dt == torch.BFloat16 {
		loss = loss.ToDType(torch.Float32)
	}
	return loss.MulScalar(g.scale)
}

// Unscale divides every gradient of opt's parameters by the scale, in place, and records
// whether any of them holds inf or NaN. It reports that finding (true = all finite).
// Calling it twice before Update does nothing the second time.
func (g *GradScaler) Unscale(opt *Adam) (finite bool) {
	g.defaults()
	if g.unscaled {
		return !g.foundInf
	}
	g.unscaled = true
	// Like PyTorch: multiply by the float32 reciprocal of the scale.
	inv := float64(float32(1 / g.scale))
	for gi := 0; gi < opt.NumGroups(); gi++ {
		for _, p := range opt.groups[gi].Params {
			grad := p.Grad()
			if grad == nil {
				continue
			}
			grad.MulScalarInPlace(inv)
			if !grad.AllFinite() {
				g.foundInf = true
			}
			grad.Close()
		}
	}
	return !g.foundInf
}

// Step unscales (if not yet done) and runs opt.Step unless a gradient was not finite;
// it reports whether the step was skipped.
func (g *GradScaler) Step(opt *Adam) (skipped bool) {
	g.Unscale(opt)
	if g.foundInf {
		return true
	}
	opt.Step()
	return false
}

// Update adapts the scale after a step and resets the per-iteration state.
func (g *GradScaler) Update() {
	g.defaults()
	if g.foundInf {
		g.scale *= g.Backoff
		g.growthTracker = 0
	} else {
		g.growthTracker++
		if g.growthTracker >= g.Interval {
			g.scale *= g.Growth
			g.growthTracker = 0
		}
	}
	g.unscaled = false
	g.foundInf = false
}

// ScaleValue returns the current scale.
func (g *GradScaler) ScaleValue() float64 {
	g.defaults()
	return g.scale
}

// GrowthTracker returns the number of consecutive finite steps since the last change.
func (g *GradScaler) GrowthTracker() int { return g.growthTracker }

// LoadState restores scale and growth tracker from a checkpoint.
func (g *GradScaler) LoadState(scale float64, growthTracker int) error {
	if !(scale > 0) || math.IsInf(scale, 0) {
		return fmt.Errorf("grad scaler: load state: scale %v is not a positive finite number", scale)
	}
	g.scale, g.growthTracker = scale, growthTracker
	return nil
}
