package optim

import (
	"fmt"
	"math"
	"slices"

	"dmlrun/torch"
)

// Group is one parameter group: its parameters share a learning rate and weight decay.
type Group struct {
	Name        string
	Params      []*torch.Tensor
	LR          float64
	WeightDecay float64
}

// ParamState is Adam's state for one parameter. Step counts this parameter's updates
// (parameters without a gradient are skipped and do not count).
type ParamState struct {
	Step     int64
	ExpAvg   *torch.Tensor // nil before the first update
	ExpAvgSq *torch.Tensor
}

// State is a snapshot of an Adam optimiser for checkpoints: per group, per parameter.
// LR holds each group's current learning rate.
type State struct {
	LR     []float64
	Params [][]ParamState
}

// Adam is torch.optim.Adam (amsgrad off, maximize off) over parameter groups.
type Adam struct {
	groups       []Group
	beta1, beta2 float64
	eps          float64
	state        [][]ParamState
}

// NewAdam returns an Adam optimiser. The groups slice is copied; the parameter tensors
// are borrowed and must stay open while the optimiser is used.
func NewAdam(groups []Group, beta1, beta2, eps float64) *Adam {
	a := &Adam{beta1: beta1, beta2: beta2, eps: eps}
	for _, g := range groups {
		g.Params = append([]*torch.Tensor(nil), g.Params...)
		a.groups = append(a.groups, g)
		a.state = append(a.state, make([]ParamState, len(g.Params)))
	}
	return a
}

// NumGroups returns the number of parameter groups.
func (a *Adam) NumGroups() int { return len(a.groups) }

// Group returns a copy of group i's settings.
func (a *Adam) Group(i int) Group { return a.groups[i] }

// SetLR sets group i's learning rate.
func (a *Adam) SetLR(group int, lr float64) { a.groups[group].LR = lr }

// LR returns group i's learning rate.
func (a *Adam) LR(group int) float64 { return a.groups[group].LR }

// ZeroGrad sets every parameter's gradient to undefined.
func (a *Adam) ZeroGrad() {
	for _, g := range a.groups {
		for _, p := range g.Params {
			p.ZeroGrad()
		}
	}
}

// Step applies one Adam update to every parameter that has a gradient, following
// torch.optim.Adam's single-tensor path:
//
//	g = grad + wd*θ;  m = β1 m + (1-β1) g;  v = β2 v + (1-β2) g²
//	θ -= lr/(1-β1^t) * m / (sqrt(v)/sqrt(1-β2^t) + eps)
func (a *Adam) Step() {
	for gi, grp := range a.groups {
		for pi, p := range grp.Params {
			a.stepParam(&a.state[gi][pi], p, grp.LR, grp.WeightDecay)
		}
	}
}

func (a *Adam) stepParam(st *ParamState, p *torch.Tensor, lr, wd float64) {
	grad := p.Grad()
	if grad == nil {
		return
	}
	defer grad.Close()
	if st.ExpAvg == nil {
		shape, dt, dev := p.Shape(), p.DType(), p.Device()
		st.ExpAvg = torch.Zeros(shape, dt, dev).Unscope()
		st.ExpAvgSq = torch.Zeros(shape, dt, dev).Unscope()
	}
	st.Step++
	g := grad
	if wd != 0 {
		// torch: grad = grad.add(param, alpha=weight_decay), one fused add.
		g = grad.Clone()
		defer g.Close()
		g.AddInPlace(p, wd)
	}
	b1, b2 := a.beta1, a.beta2
	st.ExpAvg.MulScalarInPlace(b1)
	st.ExpAvg.AddInPlace(g, 1-b1)
	st.ExpAvgSq.MulScalarInPlace(b2)
	st.ExpAvgSq.Addcmul(g, g, 1-b2)

	step := float64(st.Step)
	bc1 := 1 - math.Pow(b1, step)
	bc2 := 1 - math.Pow(b2, step)
	stepSize := lr / bc1
	denom := st.ExpAvgSq.Sqrt()
	defer denom.Close()
	denom.DivScalarInPlace(math.Sqrt(bc2))
	denom.AddScalarInPlace(a.eps)
	p.Addcdiv(st.ExpAvg, denom, -stepSize)
}

// State returns the optimiser's current state. The tensors are BORROWED: they stay owned
// by the optimiser and are valid until the next Step, LoadState or Close.
func (a *Adam) State() State {
	s := State{}
	for gi, g := range a.groups {
		s.LR = append(s.LR, g.LR)
		s.Params = append(s.Params, append([]ParamState(nil), a.state[gi]...))
	}
	return s
}

// LoadState replaces the optimiser's state with copies of s (s's tensors stay the
// caller's). Group and parameter counts and moment shapes must match.
func (a *Adam) LoadState(s State) error {
	if len(s.Params) != len(a.groups) || len(s.LR) != len(a.groups) {
		return fmt.Errorf("adam: load state: %d groups in state, optimiser has %d", len(s.Params), len(a.groups))
	}
	for gi, g := range a.groups {
		if len(s.Params[gi]) != len(g.Params) {
			return fmt.Errorf("adam: load state: group %d (%s): %d params in state, optimiser has %d", gi, g.Name, len(s.Params[gi]), len(g.Params))
		}
		for pi, ps := range s.Params[gi] {
			if (ps.ExpAvg == nil) != (ps.ExpAvgSq == nil) {
				return fmt.Errorf("adam: load state: group %d (%s) param %d: exp_avg and exp_avg_sq must both be set or both be nil", gi, g.Name, pi)
			}
			if ps.ExpAvg == nil {
				continue
			}
			want := g.Params[pi].Shape()
			for _, m := range []*torch.Tensor{ps.ExpAvg, ps.ExpAvgSq} {
				if got := m.Shape(); !slices.Equal(got, want) {
					return fmt.Errorf("adam: load state: group %d (%s) param %d: moment shape %v, param shape %v", gi, g.Name, pi, got, want)
				}
			}
		}
	}
	a.Close()
	for gi, g := range a.groups {
		a.groups[gi].LR = s.LR[gi]
		a.state[gi] = make([]ParamState, len(g.Params))
		for pi, ps := range s.Params[gi] {
			st := &a.state[gi][pi]
			st.Step = ps.Step
			if ps.ExpAvg == nil {
				continue
			}
			p := g.Params[pi]
			st.ExpAvg = ps.ExpAvg.To(p.Device()).Unscope()
			st.ExpAvgSq = ps.ExpAvgSq.To(p.Device()).Unscope()
			// To may return a view of the caller's tensor; own a copy.
			c1, c2 := st.ExpAvg.Clone().Unscope(), st.ExpAvgSq.Clone().Unscope()
			st.ExpAvg.Close()
			st.ExpAvgSq.Close()
			st.ExpAvg, st.ExpAvgSq = c1, c2
		}
	}
	return nil
}

// Close frees the optimiser's state tensors (not the parameters). The step counts stay.
func (a *Adam) Close() {
	for gi := range a.state {
		for pi := range a.state[gi] {
			st := &a.state[gi][pi]
			st.ExpAvg.Close()
			st.ExpAvgSq.Close()
			st.ExpAvg, st.ExpAvgSq = nil, nil
		}
	}
}
