package train

import (
	"context"
	"fmt"

	"dmlrun/internal/failpoint"
	"dmlrun/stage"
	"dmlrun/stages/evaluate/metrics"
	"dmlrun/stages/models"
	"dmlrun/torch"
)

// Def returns the train stage definition, built from the plug-in tables of opts (later
// non-nil fields win; none: dmlrun's built-in losses and miners). Tests pass their own
// tables to train with a loss or miner declared in a test file.
func Def(opts ...Options) *stage.Def {
	o := Options{}.withDefaults(opts)
	defaults := defaultConfig()
	d, err := stage.Typed(stage.Def{
		Kind:    "train",
		Version: Version,
		Doc:     "Trains an embedding network (backbone + last_linear) with a DML criterion on a prepared dataset; writes checkpoint.safetensors, model.json, train_log.csv and the same per-epoch log as a TensorBoard event file (events.out.tfevents.dmlrun).",
		Params: []stage.Param{
			{Name: "dataset", Type: stage.Ref, RefKind: "dataset", Required: true, Doc: "The prepared dataset to train on, e.g. dataset.cub."},
		},
		Resumable:     true,
		Exclusive:     true,
		KeyInputsName: "pretrained weights",
	}, stage.Config[Config]{
		Defaults: defaults,
		Check:    o.check,
		// What struct tags cannot say: documentation and enums generated from the tables.
		Options: []stage.SchemaOption{
			stage.WithVariants("loss", o.Losses.VariantSet()),
			stage.WithDoc("arch", models.ArchDoc()),
			stage.WithDoc("batch_mining", o.minersDoc()),
			stage.WithDoc("eval_metrics", "Metrics logged every eval_every epochs on each of the val and test splits the dataset has, as train_log.csv columns <split>_<metric> (val_e_recall@1, test_e_recall@1); k-means (nmi, f1) uses the number of training classes, as evaluate does. Names: "+metrics.Summary()+"."),
			stage.WithEnum("batch_mining", o.Miners.Names(), o.Miners.Aliases()),
		},
	}, func(ctx *stage.Context, c *Config) error { return train(ctx, c, o) })
	if err != nil {
		panic(err) // the declaration above is wrong: a bug, caught by every test
	}
	d.KeyInputs = func(ctx context.Context, p stage.Params) (string, error) {
		// Only pretrained and not_pretrained matter here; the fields' own problems are
		// validation's to report, so the cross-field check is not run.
		c := defaultConfig()
		stage.DecodeParams(p, &c)
		return keyInputs(ctx, &c)
	}
	return d
}

// File names inside a train artifact.
const (
	ModelInfoFile  = "model.json"
	CheckpointFile = "checkpoint.safetensors"
	LogFile        = "train_log.csv"
)

func train(ctx *stage.Context, cfg *Config, o Options) error {
	err := torch.Pinned(Threads(ctx), func() error {
		t, err := newTrainer(ctx, cfg, o)
		if err != nil {
			return err
		}
		defer t.close()
		start := 0
		if ctx.Resumed {
			if start, err = t.resume(); err != nil {
				return fmt.Errorf("resume: %w", err)
			}
		}
		if err := t.run(start); err != nil {
			return err
		}
		if err := t.saveFinal(); err != nil {
			return err
		}
		info := ModelInfo{
			Version: Version, Arch: cfg.Arch, EmbedDim: cfg.EmbedDim, FeatDim: t.model.FeatDim,
			Normalize: t.model.Arch.Normalize, Loss: cfg.Loss.Kind, Seed: cfg.Seed, Epochs: cfg.Schedule.Epochs,
			DatasetKey: t.datasetIn.Key, DatasetAddr: t.datasetIn.Addr, TrainClasses: t.numClasses,
			Checkpoint: CheckpointFile, LossParams: map[string]any{}, SelectedEpoch: -1,
		}
		if t.selecting() {
			info.SelectedEpoch, info.Selection = t.best.Epoch, cfg.Select.Label()
			v := t.best.Value
			info.SelectionValue = &v
		}
		for _, r := range t.log {
			info.Steps += r.Steps
			info.Skipped += r.Skipped
		}
		for k, v := range cfg.loss.Params {
			info.LossParams[k] = v
		}
		if t.pretrainedSHA != "" {
			info.Pretrained, info.PretrainedSHA = cfg.Pretrained, t.pretrainedSHA
		}
		if err := writeModelInfo(ctx.OutDir, info); err != nil {
			return err
		}
		if err := writeLog(ctx.OutDir, t.groupNames, t.termNames, t.evalCols, t.log); err != nil {
			return err
		}
		if err := failpoint.Inject("train.final"); err != nil {
			return err
		}
		if err := removeFiles(ctx.OutDir, bestFileRE, -1); err != nil {
			return err
		}
		return removeFiles(ctx.OutDir, epochFileRE, -1)
	})
	if err != nil {
		return fmt.Errorf("train %s: %w", ctx.Addr, err)
	}
	return nil
}
