package trainstep

import (
	"fmt"
	"time"

	"dmlrun/stage"
	"dmlrun/stages/models"
	"dmlrun/stages/train/criteria"
	"dmlrun/torch"
	"dmlrun/torch/optim"
)

// Config selects the model, the loss and the learning rates of the step.
type Config struct {
	Arch     string       // stages/models architecture, e.g. "smallcnn_normalize"
	EmbedDim int64        // embedding size
	Classes  int          // number of training classes (proxies)
	Loss     string       // stages/train/criteria kind, e.g. "oproxy"
	LossArgs stage.Params // overrides of the loss's defaults (nil = defaults)
	LR       float64      // network learning rate (criterion groups derive theirs from it)
	Decay    float64      // network weight decay
	BF16     bool         // forward and loss under CPU bfloat16 autocast, as stages/train's autocast = "bf16"
}

// Timing is where one step's wall time went.
type Timing struct {
	Forward  time.Duration // zero grads + forward + loss (up to loss.Item)
	Backward time.Duration // backward of the scaled loss
	Optim    time.Duration // unscale + finite check + Adam + scale update
}

// Total is the step's wall time.
func (t Timing) Total() time.Duration { return t.Forward + t.Backward + t.Optim }

// Step owns a model, criterion, optimiser and grad scaler. Not safe for concurrent use;
// call it from the OS thread whose libtorch thread count was set.
type Step struct {
	model  *models.Model
	crit   criteria.Criterion
	opt    *optim.Adam
	scaler *optim.GradScaler
	params []*torch.Tensor
	bf16   bool
}

// New builds the step on the CPU with weights drawn from torch's generator (seed it with
// torch.ManualSeed first for repeatable runs).
func New(c Config) (*Step, error) {
	m, err := models.New(c.Arch, c.EmbedDim, torch.CPUDevice)
	if err != nil {
		return nil, fmt.Errorf("trainstep: %w", err)
	}
	p := stage.Params{}
	for _, f := range criteria.Variants()[c.Loss] {
		p[f.Name] = f.Default
	}
	for k, v := range c.LossArgs {
		p[k] = v
	}
	crit, err := criteria.New(c.Loss, p, int(c.EmbedDim), c.Classes, nil, criteria.FeatureDim(int(m.FeatDim)), criteria.Arch(c.Arch))
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("trainstep: loss %q: %w", c.Loss, err)
	}
	_, bb := m.Params(false)
	_, hd := m.Params(true)
	net := append(append([]*torch.Tensor{}, bb...), hd...)
	groups := append([]optim.Group{{Name: "network", Params: net, LR: c.LR, WeightDecay: c.Decay}}, crit.Groups(c.LR)...)
	s := &Step{model: m, crit: crit, scaler: optim.NewGradScaler(), bf16: c.BF16}
	for _, g := range groups {
		s.params = append(s.params, g.Params...)
	}
	s.opt = optim.NewAdam(groups, 0.9, 0.999, 1e-8)
	return s, nil
}

// Run does one step on images x (N x 3 x H x W float32) with labels y (N int64), inside
// the caller's torch scope. It returns the loss, whether the scaler skipped the step and
// the time split.
func (s *Step) Run(x, y *torch.Tensor) (loss float64, skipped bool, t Timing) {
	t0 := time.Now()
	for _, q := range s.params {
		q.ZeroGrad()
	}
	var l *torch.Tensor
	forward := func() {
		out := s.model.Forward(x, true, false)
		l = s.crit.Loss(criteria.Batch{Embeds: out.Embeds, Labels: y, Features: out.Features, AvgFeatures: out.AvgFeatures})
	}
	if s.bf16 {
		torch.Autocast(torch.CPUDevice, torch.BFloat16, forward)
	} else {
		forward()
	}
	loss = l.Item()
	t1 := time.Now()
	s.scaler.Scale(l).Backward()
	t2 := time.Now()
	skipped = s.scaler.Step(s.opt)
	s.scaler.Update()
	t3 := time.Now()
	return loss, skipped, Timing{Forward: t1.Sub(t0), Backward: t2.Sub(t1), Optim: t3.Sub(t2)}
}

// Close frees the model, criterion and optimiser state.
func (s *Step) Close() {
	s.opt.Close()
	criteria.Close(s.crit)
	s.model.Close()
}
