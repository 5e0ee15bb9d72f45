package train

import (
	"fmt"

	"dmlrun/stage"
	"dmlrun/stages/train/criteria"
)

// Version of the train stage's numerics and artifact format (part of every content key).
const Version = 1

// EmbedVersion is the embed stage's version.
const EmbedVersion = 1

func scheduleFields() []stage.Param {
	return []stage.Param{
		{Name: "epochs", Type: stage.Int, Default: int64(150), Doc: "Number of training epochs (original: --n_epochs)."},
		{Name: "batch_size", Type: stage.Int, Default: int64(112), Doc: "Training batch size; samples_per_class must divide it (original: --bs)."},
		{Name: "lr", Type: stage.Float, Default: 1e-5, Doc: "Base Adam learning rate of the network group; criterion groups use multiples of it (original: --lr)."},
		{Name: "fc_lr", Type: stage.Float, Default: -1.0, Doc: "If >= 0, a separate learning rate for last_linear (original: --fc_lr; -1 = same as lr)."},
		{Name: "decay", Type: stage.Float, Default: 4e-4, Doc: "Coupled L2 weight decay of the network group only (original: --decay)."},
		{Name: "tau", Type: stage.IntList, Default: []int64{10000}, Doc: "MultiStepLR milestones in epochs (original: --tau)."},
		{Name: "gamma", Type: stage.Float, Default: 0.3, Doc: "MultiStepLR decay factor (original: --gamma)."},
		{Name: "warmup", Type: stage.Int, Default: int64(0), Doc: "Initial epochs in which the backbone runs without gradients; only last_linear and the criterion train (original: --warmup)."},
		{Name: "scheduler", Type: stage.String, Default: "step", Enum: []string{"step", "none"}, Doc: "\"step\" steps MultiStepLR after every epoch, \"none\" keeps learning rates constant (original: --scheduler)."},
		{Name: "samples_per_class", Type: stage.Int, Default: int64(2), Doc: "Images drawn per class draw of the class_random sampler (original: --samples_per_class)."},
		{Name: "sampler", Type: stage.String, Default: "class_random", Enum: []string{"class_random", "random"}, Doc: "Batch sampler (original: --data_sampler)."},
		{Name: "augmentation", Type: stage.String, Default: "base", Enum: []string{"base", "big", "adv", "red"}, Doc: "Training augmentation (original: --augmentation)."},
	}
}

// trainParams is the train block's schema; defaults are the original's (reference §1).
func trainParams() []stage.Param {
	return []stage.Param{
		{Name: "dataset", Type: stage.Ref, RefKind: "dataset", Required: true, Doc: "The prepared dataset to train on, e.g. dataset.cub."},
		{Name: "arch", Type: stage.String, Default: "resnet50_frozen_normalize", Doc: "Backbone and modifiers by substring: resnet50, resnet18, bninception or smallcnn, plus frozen, normalize, double (and lp2, lp3 for bninception) (original: --arch)."},
		{Name: "embed_dim", Type: stage.Int, Default: int64(128), Doc: "Embedding dimension D of last_linear (original: --embed_dim)."},
		{Name: "pretrained", Type: stage.String, Default: "", Doc: "Path of ImageNet weights (.pth state dict: torchvision's resnet50-19c8e357.pth / resnet18-5c106cde.pth, pretrainedmodels' bn_inception-239d2248.pth); required for those archs unless not_pretrained."},
		{Name: "not_pretrained", Type: stage.Bool, Default: false, Doc: "Train the backbone from random init (original: --not_pretrained; unlike the original, bninception honours it too)."},
		{Name: "loss", Variants: criteria.Variants(), Default: "oproxy", Doc: "The training criterion and its parameters, e.g. loss \"nir\" { w_align = 0.0075 } (original: --loss and --loss_<kind>_* flags)."},
		{Name: "batch_mining", Type: stage.String, Default: "distance", Doc: "Batchminer for criteria that use one (margin, triplet, contrastive, npair, s2sd) (original: --batch_mining)."},
		{Name: "schedule", Type: stage.Object, Fields: scheduleFields(), Doc: "Optimisation schedule: epochs, batch_size, lr, fc_lr, decay, tau, gamma, warmup, scheduler, samples_per_class, sampler, augmentation."},
		{Name: "eval_every", Type: stage.Int, Default: int64(0), Doc: "Evaluate test Recall@1 every N epochs into train_log.csv (0 = never; the original evaluates every epoch)."},
		{Name: "max_skipped", Type: stage.Int, Default: int64(100), Doc: "Stop with an error after more than this many consecutive steps skipped for non-finite gradients."},
		{Name: "autocast", Type: stage.String, Default: "none", Enum: []string{"none", "bf16", "f16"}, Doc: "Mixed-precision forward on CUDA (original: --use_float16 is f16)."},
		{Name: "seed", Type: stage.Int, Default: int64(0), Doc: "Global seed (usually set through seeds = [...]) (original: --seed)."},
	}
}

func embedParams() []stage.Param {
	return []stage.Param{
		{Name: "models", Type: stage.RefList, RefKind: "train", Required: true, Doc: "Trained models to embed with, e.g. [train.baseline, train.nir]; one embed node per model instance."},
		{Name: "dataset", Type: stage.Ref, RefKind: "dataset", Required: true, Doc: "The prepared dataset whose split is embedded; must be the dataset the models were trained on."},
		{Name: "split", Type: stage.String, Default: "test", Enum: []string{"test", "train", "val"}, Doc: "Which split to embed (evaluation transform, dataset order)."},
		{Name: "batch_size", Type: stage.Int, Default: int64(112), Min: new(1.0), Doc: "Images per forward pass (does not change the result beyond float rounding)."},
	}
}

// config is a train node's parameters, typed.
type config struct {
	Arch          string
	EmbedDim      int64
	Pretrained    string
	NotPretrained bool
	LossKind      string
	Loss          stage.Params // the loss block's fields plus "kind"
	BatchMining   string
	Epochs        int
	BatchSize     int
	LR, FcLR      float64
	Decay         float64
	Tau           []int
	Gamma         float64
	Warmup        int
	Scheduler     string
	SPC           int
	Sampler       string
	Augmentation  string
	EvalEvery     int
	MaxSkipped    int
	Autocast      string
	Seed          int64
}

func parseConfig(p stage.Params) (*config, error) {
	s := p.Object("schedule")
	c := &config{
		Arch:          p.String("arch"),
		EmbedDim:      p.Int("embed_dim"),
		Pretrained:    p.String("pretrained"),
		NotPretrained: p.Bool("not_pretrained"),
		Loss:          p.Object("loss"),
		BatchMining:   p.String("batch_mining"),
		Epochs:        int(s.Int("epochs")),
		BatchSize:     int(s.Int("batch_size")),
		LR:            s.Float("lr"),
		FcLR:          s.Float("fc_lr"),
		Decay:         s.Float("decay"),
		Gamma:         s.Float("gamma"),
		Warmup:        int(s.Int("warmup")),
		Scheduler:     s.String("scheduler"),
		SPC:           int(s.Int("samples_per_class")),
		Sampler:       s.String("sampler"),
		Augmentation:  s.String("augmentation"),
		EvalEvery:     int(p.Int("eval_every")),
		MaxSkipped:    int(p.Int("max_skipped")),
		Autocast:      p.String("autocast"),
		Seed:          p.Int("seed"),
	}
	c.LossKind = c.Loss.String("kind")
	for _, t := range s.Ints("tau") {
		c.Tau = append(c.Tau, int(t))
	}
	switch {
	case c.Epochs <= 0:
		return nil, fmt.Errorf("schedule.epochs must be positive, got %d", c.Epochs)
	case c.BatchSize <= 0:
		return nil, fmt.Errorf("schedule.batch_size must be positive, got %d", c.BatchSize)
	case c.SPC <= 0 || c.BatchSize%c.SPC != 0:
		return nil, fmt.Errorf("schedule.samples_per_class %d must be positive and divide batch_size %d", c.SPC, c.BatchSize)
	case c.EmbedDim <= 0:
		return nil, fmt.Errorf("embed_dim must be positive, got %d", c.EmbedDim)
	case c.Warmup < 0:
		return nil, fmt.Errorf("schedule.warmup must be >= 0, got %d", c.Warmup)
	case c.MaxSkipped < 0:
		return nil, fmt.Errorf("max_skipped must be >= 0, got %d", c.MaxSkipped)
	}
	return c, nil
}
