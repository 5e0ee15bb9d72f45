package embed

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"dmlrun/stage"
	"dmlrun/stages/load"
	"dmlrun/stages/train"
	"dmlrun/torch"
)

// Version is the embed stage's implementation version (part of every embed node's key).
// 2: embed.json records how the model trained (train_epochs, train_steps, train_skipped,
// selected_epoch, selection).
const Version = 2

// ErrNonFinite is wrapped by the error of an embed node whose model gives NaN or infinite
// embeddings; nothing is written then.
var ErrNonFinite = errors.New("non-finite embeddings")

// Config is an embed block's typed config.
type Config struct {
	Split     string `param:"split" enum:"test,train,val" doc:"Which split to embed (evaluation transform, dataset order)."`
	BatchSize int    `param:"batch_size" min:"1" doc:"Images per forward pass (does not change the result beyond float rounding)."`
}

// Def returns the embed stage definition.
func Def() *stage.Def {
	d, err := stage.Typed(stage.Def{
		Kind:    "embed",
		Version: Version,
		Doc:     "Embeds one split of a prepared dataset with a trained model (evaluation transform, no gradients); writes embeddings.safetensors and embed.json.",
		Params: []stage.Param{
			{Name: "models", Type: stage.RefList, RefKind: "train", Required: true, Doc: "Trained models to embed with, e.g. [train.baseline, train.nir]; one embed node per model instance."},
			{Name: "dataset", Type: stage.Ref, RefKind: "dataset", Required: true, Doc: "The prepared dataset whose split is embedded; must be the dataset the models were trained on."},
		},
		ExpandOver: "models",
		Exclusive:  true,
	}, stage.Config[Config]{Defaults: Config{Split: "test", BatchSize: 112}}, run)
	if err != nil {
		panic(err) // the declaration above is wrong: a bug, caught by every test
	}
	return d
}

func run(ctx *stage.Context, cfg *Config) error {
	err := torch.Pinned(train.Threads(ctx), func() error {
		mins, dins := ctx.InputsOf("models"), ctx.InputsOf("dataset")
		if len(mins) != 1 || len(dins) != 1 {
			return fmt.Errorf("want one model and one dataset input, got %d and %d", len(mins), len(dins))
		}
		min, din := mins[0], dins[0]
		dev, err := torch.ParseDevice(ctx.Device)
		if err != nil {
			return err
		}
		m, info, err := train.LoadModel(min.Dir, dev)
		if err != nil {
			return fmt.Errorf("model %s: %w", min.Addr, err)
		}
		defer m.Close()
		if info.DatasetKey != din.Key {
			return fmt.Errorf("model %s was trained on %s (key %.12s), but dataset = %s (key %.12s): embed with the dataset the model was trained on",
				min.Addr, info.DatasetAddr, info.DatasetKey, din.Addr, din.Key)
		}
		p, err := load.Open(din.Dir)
		if err != nil {
			return fmt.Errorf("dataset %s: %w", din.Addr, err)
		}
		defer p.Close()
		s, err := p.Split(cfg.Split)
		if err != nil {
			return fmt.Errorf("dataset %s: %w", din.Addr, err)
		}
		bar := ctx.Progress.Start(cfg.Split, int64(s.Len()))
		x, y, err := train.EmbedSplit(m, s, cfg.BatchSize, dev, bar)
		bar.Finish()
		if err != nil {
			return err
		}
		// A diverged network embeds NaN; evaluating such rows still gives numbers
		// (Recall@1 0.2, NMI 0), so they must not reach evaluate as a result.
		if n, first := train.NonFinite(x, int(m.Dim)); n > 0 {
			return fmt.Errorf("%w: model %s embeds %d of %d images of split %q as NaN or Inf (the first is image %d): the network diverged or its checkpoint is damaged; retrain it, e.g. with lower learning rates",
				ErrNonFinite, min.Addr, n, len(y), cfg.Split, first)
		}
		e := Embeddings{Data: x, Rows: len(y), Dim: int(m.Dim), Labels: y}
		if err := WriteEmbeddings(ctx.OutDir, e); err != nil {
			return err
		}
		if err := WriteInfo(ctx.OutDir, Info{Split: cfg.Split, N: e.Rows, Dim: e.Dim, ModelBlock: min.Block, ModelAddr: min.Addr,
			ModelKey: min.Key, Seed: info.Seed, TrainClasses: info.TrainClasses, Arch: info.Arch, Loss: info.Loss,
			TrainEpochs: info.Epochs, TrainSteps: info.Steps, TrainSkipped: info.Skipped,
			SelectedEpoch: info.SelectedEpoch, Selection: info.Selection}); err != nil {
			return err
		}
		return copyFile(filepath.Join(min.Dir, train.LogFile), filepath.Join(ctx.OutDir, TrainLogFile))
	})
	if err != nil {
		return fmt.Errorf("embed %s: %w", ctx.Addr, err)
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
