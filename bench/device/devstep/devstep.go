package devstep

import (
	"fmt"
	"time"

	"dmlrun/stage"
	"dmlrun/stages/models"
	"dmlrun/stages/train/criteria"
	"dmlrun/torch"
	"dmlrun/torch/optim"
)

// Config selects the model, loss, learning rates, device and precision.
type Config struct {
	Arch     string       // stages/models architecture, e.g. "resnet50_frozen_normalize"
	EmbedDim int64        // embedding size
	Classes  int          // number of training classes (proxies)
	Loss     string       // stages/train/criteria kind, e.g. "oproxy"
	LossArgs stage.Params // overrides of the loss's defaults (nil = defaults)
	LR       float64      // network learning rate (criterion groups derive theirs from it)
	Decay    float64      // network weight decay
	Device   torch.Device
	// Autocast is the dtype forward and loss run in under torch.autocast (BFloat16 or
	// Float16, as stages/train's autocast = "bf16" / "f16"), or Float32 for none.
	Autocast torch.DType
}

// Timing is where one step's wall time went. On CUDA, kernels run asynchronously: Forward
// ends at loss.Item (a synchronisation), Backward is mostly launch time, and Optim waits
// for the backward kernels at the first finite check of a gradient.
type Timing struct {
	Forward  time.Duration // zero grads + forward + loss (up to loss.Item)
	Backward time.Duration // backward of the scaled loss
	Optim    time.Duration // unscale + finite check + Adam + scale update
}

// Step owns a model, criterion, optimiser and grad scaler. Not safe for concurrent use;
// run it on the OS thread whose libtorch thread count was set.
type Step struct {
	cfg    Config
	model  *models.Model
	crit   criteria.Criterion
	opt    *optim.Adam
	scaler *optim.GradScaler
	params []*torch.Tensor
	names  []string
}

// New builds the step on cfg.Device with weights drawn from the CPU generator (seed it
// with torch.ManualSeed first: the same seed gives the same weights on every device).
func New(c Config) (*Step, error) {
	m, err := models.New(c.Arch, c.EmbedDim, c.Device)
	if err != nil {
		return nil, fmt.Errorf("devstep: %w", err)
	}
	p := stage.Params{}
	for _, f := range criteria.Variants()[c.Loss] {
		p[f.Name] = f.Default
	}
	for k, v := range c.LossArgs {
		p[k] = v
	}
	crit, err := criteria.New(c.Loss, p, int(c.EmbedDim), c.Classes, nil,
		criteria.OnDevice(c.Device), criteria.FeatureDim(int(m.FeatDim)), criteria.Arch(c.Arch))
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("devstep: loss %q: %w", c.Loss, err)
	}
	bbNames, bb := m.Params(false)
	hdNames, hd := m.Params(true)
	net := append(append([]*torch.Tensor{}, bb...), hd...)
	groups := append([]optim.Group{{Name: "network", Params: net, LR: c.LR, WeightDecay: c.Decay}}, crit.Groups(c.LR)...)
	s := &Step{cfg: c, model: m, crit: crit, scaler: optim.NewGradScaler()}
	s.names = append(append([]string{}, bbNames...), hdNames...)
	for _, g := range groups {
		s.params = append(s.params, g.Params...)
		if g.Name != "network" {
			for i := range g.Params {
				s.names = append(s.names, fmt.Sprintf("%s.%d", g.Name, i))
			}
		}
	}
	s.opt = optim.NewAdam(groups, 0.9, 0.999, 1e-8)
	return s, nil
}

// Params returns every trainable tensor (network, then criterion) with a name each. The
// tensors are the step's own: read them, do not close them.
func (s *Step) Params() ([]string, []*torch.Tensor) { return s.names, s.params }

// Result is one step's outcome. Embeds belongs to the caller's scope.
type Result struct {
	Loss    float64
	Skipped bool
	Embeds  *torch.Tensor // the forward pass's embeddings (B x D, float32 or the autocast dtype)
	Timing  Timing
}

// Run does one step on images x (N x 3 x H x W float32, on the step's device) with labels
// y (N int64, on the device), inside the caller's torch scope.
func (s *Step) Run(x, y *torch.Tensor) Result {
	t0 := time.Now()
	for _, q := range s.params {
		q.ZeroGrad()
	}
	var out models.Output
	var l *torch.Tensor
	fwd := func() {
		out = s.model.Forward(x, true, false)
		l = s.crit.Loss(criteria.Batch{Embeds: out.Embeds, Labels: y, Features: out.Features, AvgFeatures: out.AvgFeatures})
	}
	if s.cfg.Autocast == torch.BFloat16 || s.cfg.Autocast == torch.Float16 {
		torch.Autocast(s.cfg.Device, s.cfg.Autocast, fwd)
	} else {
		fwd()
	}
	r := Result{Loss: l.Item(), Embeds: out.Embeds}
	t1 := time.Now()
	s.scaler.Scale(l).Backward()
	t2 := time.Now()
	r.Skipped = s.scaler.Step(s.opt)
	s.scaler.Update()
	r.Timing = Timing{Forward: t1.Sub(t0), Backward: t2.Sub(t1), Optim: time.Since(t2)}
	return r
}

// Sync waits for the device's queued work by reading one value of the first parameter
// back (the shim has no explicit synchronize; a device-to-host copy waits for the stream).
func (s *Step) Sync() {
	_ = torch.WithScope(func() error {
		s.params[0].Flatten(0, -1).Narrow(0, 0, 1).Item()
		return nil
	})
}

// Close frees the model, criterion and optimiser state.
func (s *Step) Close() {
	s.opt.Close()
	criteria.Close(s.crit)
	s.model.Close()
}
