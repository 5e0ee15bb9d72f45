package train

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"dmlrun/stage"
	"dmlrun/stages/nir"
	"dmlrun/stages/train/criteria"
	"dmlrun/torch"
)

// ErrNotNIR is wrapped by InspectNIR's error when the train artifact's loss is not nir.
var ErrNotNIR = errors.New("not a nir model")

// InspectOptions are InspectNIRWith's inputs.
type InspectOptions struct {
	Classes int    // the first Classes training classes (capped at the number there are); default 10
	Samples int    // samples drawn per class; default 500
	Seed    uint64 // seeds the torch generator the samples come from

	// Loss is the train node's decoded `loss "nir"` block (defaults filled). It is used only
	// for artifacts whose model.json predates the loss_params field; model.json's copy wins
	// when both exist. nil: model.json must have it.
	Loss stage.Params
}

// InspectNIR rebuilds the NIR criterion of the finished train artifact in dir (model.json
// and its checkpoint's criterion.* tensors) on the CPU and returns nir.Inspect's report for
// the first `classes` training classes with `samples` samples each. The samples are drawn
// after torch.ManualSeed(seed), so the same artifact and arguments give the same report.
// An artifact whose loss is not nir is an error wrapping ErrNotNIR.
func InspectNIR(dir string, classes, samples int, seed uint64) (nir.Report, error) {
	return InspectNIRWith(dir, InspectOptions{Classes: classes, Samples: samples, Seed: seed})
}

// InspectNode is what `dmlrun inspect` does for one train node: params are the node's
// canonical parameters (as the plan has them) and dir its finished artifact. A node whose
// loss is not nir is an error wrapping ErrNotNIR, found from the parameters before the
// artifact is read; the node's loss block stands in for model.json's loss_params in
// artifacts older than that field (o.Loss, when nil). Parameters that do not decode are an
// error naming them (they passed validation, so it means a plan from another dmlrun).
func InspectNode(params stage.Params, dir string, o InspectOptions) (nir.Report, error) {
	cfg, err := inspectable(params)
	if err != nil {
		return nir.Report{}, err
	}
	if o.Loss == nil {
		o.Loss = stage.Params{"kind": cfg.Loss.Kind}
		for k, v := range cfg.loss.Params {
			o.Loss[k] = v
		}
	}
	return InspectNIRWith(dir, o)
}

// CheckInspectable says, from a train node's parameters alone, whether InspectNode can
// inspect it (its loss is "nir"), so that a caller can refuse before looking for the
// artifact.
func CheckInspectable(params stage.Params) error {
	_, err := inspectable(params)
	return err
}

func inspectable(params stage.Params) (*Config, error) {
	c, probs := Def().Decode(params)
	if len(probs) > 0 {
		return nil, fmt.Errorf("inspect: the node's parameters: %w", probs.Err())
	}
	cfg := c.(*Config)
	if cfg.Loss.Kind != "nir" {
		return nil, fmt.Errorf("loss is %q: %w (inspect reads the learned class densities of loss \"nir\")", cfg.Loss.Kind, ErrNotNIR)
	}
	return cfg, nil
}

// InspectNIRWith is InspectNIR with options (see InspectOptions.Loss).
func InspectNIRWith(dir string, o InspectOptions) (nir.Report, error) {
	if o.Classes == 0 {
		o.Classes = 10
	}
	if o.Samples == 0 {
		o.Samples = 500
	}
	if o.Classes < 1 || o.Samples < 2 {
		return nir.Report{}, fmt.Errorf("inspect: classes %d and samples %d: need at least 1 class and 2 samples", o.Classes, o.Samples)
	}
	info, err := ReadModelInfo(dir)
	if err != nil {
		return nir.Report{}, err
	}
	if info.Loss != "nir" {
		return nir.Report{}, fmt.Errorf("%s: loss is %q: %w (inspect reads the learned class densities of loss \"nir\")", dir, info.Loss, ErrNotNIR)
	}
	lp, err := info.LossBlock()
	if err != nil {
		return nir.Report{}, fmt.Errorf("%s: %s: %w", dir, ModelInfoFile, err)
	}
	if lp == nil {
		if o.Loss == nil {
			return nir.Report{}, fmt.Errorf("%s: model.json has no loss_params (written by an older dmlrun) and no loss block was given", dir)
		}
		lp = o.Loss
	}

	var rep nir.Report
	err = torch.Pinned(0, func() error {
		c, err := criteria.New("nir", lp, int(info.EmbedDim), info.TrainClasses, nil)
		if err != nil {
			return err
		}
		defer criteria.Close(c)
		sd, _, _, err := torch.LoadSafetensors(filepath.Join(dir, info.Checkpoint))
		if err != nil {
			return err
		}
		defer func() {
			for _, t := range sd {
				t.Close()
			}
		}()
		vals := map[string]*torch.Tensor{}
		for k, v := range sd {
			if n, ok := strings.CutPrefix(k, "criterion."); ok {
				vals[n] = v
			}
		}
		nc := criteria.NIR(c)
		if err := nc.LoadNamed(vals); err != nil {
			return fmt.Errorf("%s: %w", info.Checkpoint, err)
		}
		ks := make([]int, min(o.Classes, info.TrainClasses))
		for i := range ks {
			ks[i] = i
		}
		torch.ManualSeed(o.Seed)
		rep, err = nir.Inspect(nc, ks, o.Samples)
		return err
	})
	if err != nil {
		return nir.Report{}, fmt.Errorf("inspect %s: %w", dir, err)
	}
	return rep, nil
}
