package train

import (
	"errors"
	"fmt"
	"strings"

	"dmlrun/stage"
	"dmlrun/stages/evaluate/metrics"
	"dmlrun/stages/models"
	"dmlrun/stages/train/criteria"
	"dmlrun/stages/train/miners"
)

// Version of the train stage's numerics and artifact format (part of every content key).
// 2: model.json records steps, skipped steps and the selected epoch; train_log.csv has a
// steps column. 3: the artifact holds a TensorBoard event file (events.out.tfevents.dmlrun). 4: a loss that is
// a sum of named terms (nir) logs each term too (loss_<term>, train/loss/<term>). 5: eval_every
// computes its metrics on the evaluate stage's libtorch backend (it was the pure-Go one,
// which may order near-tied neighbours differently), embeds under the block's autocast as
// the original does, and logs eval_seconds.
const Version = 5

// Config is a train block's typed config; defaults are the original's (reference §1). The
// doc of arch, loss and batch_mining, and batch_mining's enum, come from the plug-in tables
// (Def fills them in), so those fields' tags have none.
type Config struct {
	Arch          string        `param:"arch"`
	EmbedDim      int64         `param:"embed_dim" min:"1" doc:"Embedding dimension D of last_linear (original: --embed_dim)."`
	Pretrained    string        `param:"pretrained" nokey:"true" doc:"Path of ImageNet weights (.pth state dict: torchvision's resnet50-19c8e357.pth / resnet18-5c106cde.pth, pretrainedmodels' bn_inception-239d2248.pth); required for those archs unless not_pretrained. Not part of the key (the file's SHA-256 is)."`
	NotPretrained bool          `param:"not_pretrained" doc:"Train the backbone from random init (original: --not_pretrained; unlike the original, bninception honours it too)."`
	Loss          stage.Variant `param:"loss" doc:"The training criterion and its parameters, e.g. loss \"nir\" { w_align = 0.0075 }; the kinds are below (original: --loss and --loss_<kind>_* flags)."`
	BatchMining   string        `param:"batch_mining"`
	Schedule      Schedule      `param:"schedule" doc:"Optimisation schedule: epochs, batch_size, lr, fc_lr, decay, tau, gamma, warmup, scheduler, samples_per_class, sampler, augmentation."`
	EvalEvery     int           `param:"eval_every" min:"0" doc:"Evaluate eval_metrics every N epochs on the dataset's val and test splits into train_log.csv (0 = never; the original evaluates every epoch)."`
	// EvalMetrics' doc lists the metric table's names (Def sets it).
	EvalMetrics []string `param:"eval_metrics"`
	Select      Select   `param:"select" doc:"Model selection: keep the weights of the evaluated epoch with the largest value of metric on split instead of the last epoch's, e.g. select = { metric = \"e_recall@1\", split = \"val\" }; needs eval_every (only evaluated epochs are candidates). The checkpoint is then the selected epoch's, and model.json records selected_epoch and the selection (\"val:e_recall@1\")."`
	MaxSkipped  int      `param:"max_skipped" min:"0" doc:"Stop with an error after more than this many consecutive steps skipped for non-finite gradients."`
	// MaxSkippedShare: a run that skips most of an epoch did not train on it, yet used to be
	// cached and evaluated as a result. The grad scaler skips a step only when its scaled
	// gradients overflow, and halves the scale then, so a healthy run skips single steps, far
	// below half an epoch. Warmup epochs are exempt: the backbone does not train in them
	// anyway, and they hold the run's first steps, where the scaler halves its initial 2^16
	// scale on every overflow (many steps under f16 autocast).
	MaxSkippedShare float64 `param:"max_skipped_share" min:"0" max:"1" doc:"Fail the node when, in an epoch after warmup, more than this share of its steps was skipped for non-finite gradients: such a run did not train (a healthy one skips single steps when the grad scaler's scale overflows; 1 disables the check)."`
	Autocast        string  `param:"autocast" enum:"none,bf16,f16" doc:"Mixed-precision forward and loss, and the forward of eval_every's evaluation (original: --use_float16 is f16): bf16 on CUDA or on a CPU with bfloat16 instructions (AVX512-BF16 or AMX-BF16; refused on other CPUs), f16 on CUDA only. Backward, weights and the grad scaler stay float32."`
	Seed            int64   `param:"seed" doc:"Global seed (usually set through seeds = [...]) (original: --seed)."`

	// Set by the decoding check (not parameters): the parsed arch and the loss block
	// decoded into its loss's typed parameters.
	arch models.Arch
	loss criteria.Config
}

// Schedule is the `schedule = { ... }` object.
type Schedule struct {
	Epochs          int     `param:"epochs" min:"0" doc:"Number of training epochs (original: --n_epochs); 0 trains nothing and stores the initialised network (seeded, with its pretrained weights), which the original evaluates before training: the floor a report can show."`
	BatchSize       int     `param:"batch_size" min:"1" doc:"Training batch size; samples_per_class must divide it (original: --bs)."`
	LR              float64 `param:"lr" above:"0" doc:"Base Adam learning rate of the network group; criterion groups use multiples of it (original: --lr)."`
	FcLR            float64 `param:"fc_lr" doc:"If > 0, a separate learning rate for last_linear; -1 = same as lr (original: --fc_lr)."`
	Decay           float64 `param:"decay" min:"0" doc:"Coupled L2 weight decay of the network group only (original: --decay)."`
	Tau             []int   `param:"tau" min:"0" doc:"MultiStepLR milestones in epochs (original: --tau)."`
	Gamma           float64 `param:"gamma" above:"0" doc:"MultiStepLR decay factor (original: --gamma)."`
	Warmup          int     `param:"warmup" min:"0" doc:"Initial epochs in which the backbone runs without gradients; only last_linear and the criterion train (original: --warmup)."`
	Scheduler       string  `param:"scheduler" enum:"step,none" doc:"\"step\" steps MultiStepLR after every epoch, \"none\" keeps learning rates constant (original: --scheduler)."`
	SamplesPerClass int     `param:"samples_per_class" min:"1" doc:"Images drawn per class draw of the class_random sampler (original: --samples_per_class)."`
	Sampler         string  `param:"sampler" enum:"class_random,random" doc:"Batch sampler (original: --data_sampler)."`
	Augmentation    string  `param:"augmentation" enum:"base,big,adv,red" doc:"Training augmentation (original: --augmentation)."`
}

// Select is the `select = { ... }` object. The default (metric "") selects nothing: the
// artifact holds the last epoch's weights, as the original's final checkpoint does.
type Select struct {
	Metric    string `param:"metric" doc:"Metric to select by, one whose largest value is best: e_recall@K, c_recall@K, mAP_K, c_mAP_K, mAP@R, c_mAP@R, nmi, f1 (\"\" = no selection, the last epoch)."`
	Split     string `param:"split" enum:"val,test" doc:"Split the metric is computed on: val, the dataset's class-disjoint validation split (val_split in the dataset block), or test, which needs allow_test."`
	AllowTest bool   `param:"allow_test" doc:"Allow split = \"test\": an epoch chosen by its test numbers makes those numbers optimistic, so it is an error unless set, and the selection is recorded as \"test:<metric>\" for tables to label."`
}

// Label is how artifacts record the selection: "<split>:<metric>" ("val:e_recall@1"), or ""
// for none.
func (s Select) Label() string {
	if s.Metric == "" {
		return ""
	}
	return s.Split + ":" + s.Metric
}

// defaultConfig is the original's defaults (reference §1).
func defaultConfig() Config {
	return Config{
		Arch: "resnet50_frozen_normalize", EmbedDim: 128, Loss: stage.Variant{Kind: "oproxy"}, BatchMining: "distance",
		Schedule: Schedule{Epochs: 150, BatchSize: 112, LR: 1e-5, FcLR: -1, Decay: 4e-4, Tau: []int{10000}, Gamma: 0.3,
			Scheduler: "step", SamplesPerClass: 2, Sampler: "class_random", Augmentation: "base"},
		EvalMetrics: []string{"e_recall@1"}, Select: Select{Split: "val"}, MaxSkipped: 100, MaxSkippedShare: 0.5, Autocast: "none",
	}
}

// LossKind is the loss block's kind ("oproxy", "nir", ...).
func (c *Config) LossKind() string { return c.Loss.Kind }

// Options are the plug-in tables a train stage is built from. A nil table is dmlrun's
// built-in one (criteria.Builtin, miners.Builtin).
type Options struct {
	Losses *criteria.Table
	Miners *miners.Table
}

func (o Options) withDefaults(more []Options) Options {
	for _, m := range more {
		if m.Losses != nil {
			o.Losses = m.Losses
		}
		if m.Miners != nil {
			o.Miners = m.Miners
		}
	}
	if o.Losses == nil {
		o.Losses = criteria.Builtin()
	}
	if o.Miners == nil {
		o.Miners = miners.Builtin()
	}
	return o
}

// check is the train config's rules beyond its fields' tags, with paths: the arch against
// the backbone table, batch_mining against the miner table, the loss block against the loss
// table (and the train block around it), and the schedule's cross-field rules. It also
// stores the parsed arch and the decoded loss in c.
func (o Options) check(c *Config) stage.Problems {
	var probs stage.Problems
	a, ps := models.CheckArch(c.Arch)
	probs.Extend("arch", ps)
	c.arch = a
	o.Miners.CheckName(&probs, "batch_mining", c.BatchMining)
	lc, ps := o.Losses.Decode(c.Loss, criteria.TrainBlock{EmbedDim: c.EmbedDim, BatchMining: c.BatchMining})
	probs.Extend("loss", ps)
	c.loss = lc
	checkEvalMetrics(&probs, c)
	checkSelect(&probs, c)
	s := &c.Schedule
	if s.BatchSize%s.SamplesPerClass != 0 {
		probs.Addf("schedule.batch_size", "Batch size not a multiple of samples_per_class",
			"schedule.batch_size = %d is not a multiple of samples_per_class = %d (the class_random sampler draws samples_per_class images per class); use e.g. batch_size = %d or samples_per_class = %d.",
			s.BatchSize, s.SamplesPerClass, (s.BatchSize/s.SamplesPerClass+1)*s.SamplesPerClass, gcd(s.BatchSize, s.SamplesPerClass))
	}
	if s.FcLR != -1 && !(s.FcLR > 0) {
		probs.Addf("schedule.fc_lr", "Value out of range",
			"schedule.fc_lr = %v: it is -1 (last_linear trains at lr, the default) or a learning rate > 0 for last_linear alone.", s.FcLR)
	}
	switch {
	case s.Epochs == 0 && s.Warmup != 0:
		probs.Addf("schedule.warmup", "Warmup without epochs",
			"schedule.warmup = %d with schedule.epochs = 0: epochs = 0 stores the untrained network, so there are no epochs to warm up; set warmup = 0.", s.Warmup)
	case s.Epochs > 0 && s.Warmup >= s.Epochs:
		probs.Addf("schedule.warmup", "Warmup too long",
			"schedule.warmup = %d must be less than schedule.epochs = %d: warmup epochs freeze the backbone, so with warmup >= epochs it would never train.", s.Warmup, s.Epochs)
	}
	return probs
}

// checkEvalMetrics looks every eval_metrics name up in the metric table of
// stages/evaluate/metrics, as the evaluate block's metrics are: an unknown name gets the
// nearest valid one as "did you mean", a known family with a bad parameter its reason, a
// repeated name its first position.
func checkEvalMetrics(probs *stage.Problems, c *Config) {
	first := map[string]int{}
	for i, n := range c.EvalMetrics {
		at := fmt.Sprintf("eval_metrics[%d]", i)
		if j, dup := first[n]; dup {
			probs.Addf(at, "Duplicate metric", "%q is already requested at eval_metrics[%d]; list each metric once.", n, j)
			continue
		}
		first[n] = i
		checkMetricName(probs, at, n)
	}
	if c.EvalEvery > 0 && len(c.EvalMetrics) == 0 {
		probs.Addf("eval_metrics", "No metrics to evaluate",
			"eval_every = %d evaluates every %d epochs, but eval_metrics is empty; list the metrics to log, e.g. eval_metrics = [\"e_recall@1\"], or set eval_every = 0.", c.EvalEvery, c.EvalEvery)
	}
}

// checkSelect is the select block's rules: a metric that ranks epochs by its largest
// value, test only with allow_test (selecting on test and reporting test numbers is
// optimistic), and epochs that are evaluated. Whether the dataset has the val split is
// known only when the node runs (newTrainer checks it before training).
func checkSelect(probs *stage.Problems, c *Config) {
	sel := c.Select
	if sel.Metric == "" {
		if sel.Split != "val" || sel.AllowTest {
			probs.Addf("select.metric", "Selection without a metric",
				"select sets split or allow_test but no metric, so nothing would be selected; name the metric to select by, e.g. select = { metric = \"e_recall@1\", split = \"val\" }, or remove select.")
		}
		return
	}
	if checkMetricName(probs, "select.metric", sel.Metric) && !selectable(sel.Metric) {
		probs.Addf("select.metric", "Metric cannot select",
			"select.metric = %q: selection keeps the epoch with the largest value, which is not the best one for this metric; select by e_recall@K, c_recall@K, mAP_K, c_mAP_K, mAP@R, c_mAP@R, nmi or f1.", sel.Metric)
	}
	if sel.Split == "test" && !sel.AllowTest {
		probs.Addf("select.split", "Selection on the test split",
			"select.split = \"test\" picks the epoch by its test numbers, which are then reported as results and so are optimistic; select on the class-disjoint validation split (split = \"val\", with val_split in the dataset block), or set allow_test = true in select to do it anyway (it is then recorded as \"test:%s\" for tables to label).", sel.Metric)
	}
	switch {
	case c.Schedule.Epochs == 0:
		probs.Addf("select", "Nothing to select",
			"schedule.epochs = 0 stores the untrained network, so there is no epoch to select; remove select, or train for some epochs.")
	case c.EvalEvery == 0:
		probs.Addf("select", "Selection without evaluation",
			"select chooses among the evaluated epochs, but eval_every = 0 evaluates none; set eval_every = 1 (every epoch, as the original evaluates) or another N up to schedule.epochs = %d.", c.Schedule.Epochs)
	case c.EvalEvery > c.Schedule.Epochs:
		probs.Addf("select", "No epoch evaluated",
			"select chooses among the evaluated epochs, but eval_every = %d is more than schedule.epochs = %d, so none is evaluated; use eval_every <= %d.", c.EvalEvery, c.Schedule.Epochs, c.Schedule.Epochs)
	}
}

// selectable says whether a metric's largest value is its best, so that selection may rank
// epochs by it: retrieval and clustering scores, not distances or the spectrum's decay.
func selectable(name string) bool {
	n := strings.TrimPrefix(name, "c_")
	return strings.HasPrefix(n, "e_recall@") || strings.HasPrefix(n, "recall@") || strings.HasPrefix(n, "mAP") || n == "nmi" || n == "f1"
}

// checkMetricName adds a problem at path when name is not a metric of the metric table.
func checkMetricName(probs *stage.Problems, path, name string) bool {
	var ne *metrics.NameError
	if err := metrics.Check(name); !errors.As(err, &ne) {
		return true
	}
	if ne.Reason != "" {
		probs.Addf(path, "Invalid metric", "%q: %s.", name, ne.Reason)
		return false
	}
	probs.Addf(path, "Unknown metric", "%q is not a metric; the metrics are %s.%s",
		name, metrics.Summary(), stage.Suggest(name, metrics.Candidates(name), nil))
	return false
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// minersDoc documents batch_mining from the tables: which losses mine, and the miners.
func (o Options) minersDoc() string {
	var mining []string
	for _, n := range o.Losses.Names() {
		l, _ := o.Losses.Lookup(n)
		if l.NeedsMiner || len(l.SubCriteria) > 0 {
			mining = append(mining, n)
		}
	}
	return fmt.Sprintf("Batchminer for criteria that use one (%s) (original: --batch_mining).", strings.Join(mining, ", "))
}
