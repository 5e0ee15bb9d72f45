package train

import "dmlrun/torch"

// gradScaler reproduces torch.cuda.amp.GradScaler's semantics, which the original applies
// to every step, also in float32 (reference §8.3, clarifications.md): the loss is scaled
// before backward, gradients are unscaled before the optimiser step, a step whose unscaled
// gradients hold inf or NaN is skipped and halves the scale, and 2000 consecutive good steps
// double it. The scale is always a power of two, so scaling and unscaling are exact unless
// gradients overflow or underflow.
type gradScaler struct {
	Scale  float64 // current scale (initially 2^16)
	Growth int     // consecutive good steps since the last change
}

const (
	scalerInit     = 65536.0
	scalerInterval = 2000
)

func newGradScaler() gradScaler { return gradScaler{Scale: scalerInit} }

// scale returns loss * scale. GradScaler multiplies by a one-element float32 tensor, which
// promotes a half-precision loss (from autocast) to float32; do the same.
func (s *gradScaler) scale(loss *torch.Tensor) *torch.Tensor {
	if dt := loss.DType(); dt == torch.Float16 || dt == torch.BFloat16 {
		loss = loss.ToDType(torch.Float32)
	}
	return loss.MulScalar(s.Scale)
}

// unscale divides every defined gradient of params by the scale in place (multiplying by
// the float32 reciprocal, like _amp_foreach_non_finite_check_and_unscale_) and reports
// whether all of them are finite.
func (s *gradScaler) unscale(params []*torch.Tensor) (finite bool) {
	inv := float64(float32(1 / s.Scale))
	finite = true
	for _, p := range params {
		g := p.Grad()
		if g == nil {
			continue
		}
		g.MulScalarInPlace(inv)
		if !g.AllFinite() {
			finite = false
		}
	}
	return finite
}

// update applies GradScaler.update after a step: halve on a skipped step, double after
// scalerInterval consecutive good ones.
func (s *gradScaler) update(skipped bool) {
	if skipped {
		s.Scale *= 0.5
		s.Growth = 0
		return
	}
	s.Growth++
	if s.Growth == scalerInterval {
		s.Scale *= 2
		s.Growth = 0
	}
}
