package train

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strings"
	"time"

	"dmlrun/internal/failpoint"
	"dmlrun/stage"
	"dmlrun/stages/models"
	"dmlrun/stages/train/criteria"
	"dmlrun/stages/train/miners"
	"dmlrun/torch"
	"dmlrun/torch/optim"
)

// ErrNonFinite is wrapped by the errors that stop training for NaN in the forward pass, too
// many consecutive skipped steps (max_skipped) or too large a share of an epoch's steps
// skipped (max_skipped_share).
var ErrNonFinite = errors.New("training diverged")

// afterEpoch is a test hook run after each epoch's checkpoint is written; a non-nil error
// stops training there, as an interruption would.
var afterEpoch func(epoch int) error

// lossHook is a test hook that may replace each step's loss (to force inf or NaN).
var lossHook func(epoch, step int, loss *torch.Tensor) *torch.Tensor

// evalHook is a test hook that may change an epoch's evaluation (by log column) before
// selection sees it, to make a chosen epoch the best.
var evalHook func(epoch int, evals map[string]float64)

// trainer holds one train node's state.
type trainer struct {
	ctx   *stage.Context
	cfg   *Config
	opts  Options // the plug-in tables
	dev   torch.Device
	model *models.Model
	crit  criteria.Criterion
	data  *trainData
	opt   *optim.Adam
	sched *optim.MultiStepLR

	groupNames []string
	params     []*torch.Tensor   // every trainable tensor (network then criterion), for zero-grad
	scaler     *optim.GradScaler // torch.cuda.amp.GradScaler semantics, always on (clarifications.md)
	consec     int               // consecutive skipped steps
	log        []logRow
	termed     criteria.Termed // the criterion when its loss is a sum of named terms, else nil
	termNames  []string        // its TermNames: train_log.csv's loss_<term> columns

	// What eval_every evaluates (setupEval): metric names, the splits the dataset has, and
	// the train_log.csv columns they give (<split>_<metric>, splits outer).
	evalNames  []string
	evalSplits []string
	evalCols   []string
	best       bestEpoch // the selection's best epoch so far (select.metric set)
	datasetIn  stage.Input
	numClasses int
	minerRNG   *miners.NumpyRandom

	pretrainedSHA string // "sha256:..." of the pretrained file, when one was loaded
}

// newTrainer builds everything in the original's order (reference §8.1): seed, model and
// network group(s), data, criterion and its groups, Adam, MultiStepLR, grad scaler.
func newTrainer(ctx *stage.Context, cfg *Config, o Options) (*trainer, error) {
	ins := ctx.InputsOf("dataset")
	if len(ins) != 1 {
		return nil, fmt.Errorf("want exactly one dataset input, got %d", len(ins))
	}
	dev, err := torch.ParseDevice(ctx.Device)
	if err != nil {
		return nil, err
	}
	if err := checkAutocast(cfg.Autocast, dev); err != nil {
		return nil, err
	}
	t := &trainer{ctx: ctx, cfg: cfg, opts: o, dev: dev, datasetIn: ins[0], scaler: optim.NewGradScaler(), best: bestEpoch{Epoch: -1}}

	torch.ManualSeed(uint64(cfg.Seed))
	t.model, err = models.New(cfg.Arch, cfg.EmbedDim, dev)
	if err != nil {
		return nil, err
	}
	if err := t.loadPretrained(); err != nil {
		t.close()
		return nil, err
	}
	// Network group(s): everything (backbone incl. BN affine, last_linear) at lr with decay,
	// or backbone and last_linear apart when fc_lr >= 0.
	_, backbone := t.model.Params(false)
	_, head := t.model.Params(true)
	sc := &cfg.Schedule
	var groups []optim.Group
	if sc.FcLR >= 0 {
		groups = append(groups,
			optim.Group{Name: "backbone", Params: backbone, LR: sc.LR, WeightDecay: sc.Decay},
			optim.Group{Name: "last_linear", Params: head, LR: sc.FcLR, WeightDecay: sc.Decay})
	} else {
		groups = append(groups, optim.Group{Name: "network", Params: append(append([]*torch.Tensor{}, backbone...), head...), LR: sc.LR, WeightDecay: sc.Decay})
	}

	t.data, err = openTrainData(t.datasetIn.Dir, cfg)
	if err != nil {
		t.close()
		return nil, fmt.Errorf("dataset %s: %w", t.datasetIn.Addr, err)
	}
	t.numClasses = t.data.split.NumClasses()
	if sel := cfg.Select; sel.Metric != "" {
		// validate cannot know the dataset's splits; fail before any training does.
		if _, err := t.data.prep.Split(sel.Split); err != nil {
			t.close()
			return nil, fmt.Errorf("select.split = %q, but dataset %s has no %s split (it has %s): give its dataset block val_split = 0.8 (the share of training classes that stay training; the others become the class-disjoint val split)",
				sel.Split, t.datasetIn.Addr, sel.Split, strings.Join(t.data.prep.SplitNames(), ", "))
		}
	}
	if pr := t.data.split.Protocol; sc.Augmentation == "big" && pr.Crop != 256 {
		fmt.Fprintf(ctx.Log, "warning: %s: augmentation \"big\" is the original's crop-256 augmentation, but dataset %s has crop %d (base %d): training uses \"base\" at crop %d; set crop = 256 (and base >= 256) in the dataset block for the original's \"big\"\n",
			ctx.Addr, t.datasetIn.Addr, pr.Crop, pr.Base, pr.Crop)
	}

	var miner miners.Miner
	if cfg.loss.NeedsMiner() {
		t.minerRNG = miners.NewNumpyRandom(uint32(cfg.Seed))
		miner, err = o.Miners.New(cfg.BatchMining, nil, miners.Sources{NumPy: t.minerRNG, Python: t.data.py})
		if err != nil {
			t.close()
			return nil, fmt.Errorf("batch_mining %q: %w", cfg.BatchMining, err)
		}
	}
	t.crit, err = o.Losses.Build(cfg.loss, int(cfg.EmbedDim), t.numClasses, miner,
		criteria.OnDevice(dev), criteria.FeatureDim(int(t.model.FeatDim)), criteria.Arch(cfg.Arch))
	if err != nil {
		t.close()
		return nil, fmt.Errorf("loss %q: %w", cfg.Loss.Kind, err)
	}
	if tc, ok := t.crit.(criteria.Termed); ok {
		t.termed, t.termNames = tc, tc.TermNames()
	}
	groups = append(groups, t.crit.Groups(sc.LR)...)
	for _, g := range groups {
		t.groupNames = append(t.groupNames, g.Name)
		t.params = append(t.params, g.Params...)
	}
	t.opt = optim.NewAdam(groups, 0.9, 0.999, 1e-8)
	t.sched = optim.NewMultiStepLR(t.opt, sc.Tau, sc.Gamma)
	t.setupEval()
	return t, nil
}

// Threads is a node's libtorch thread count: ctx.Threads, or every CPU when unset. It is set
// on the node's pinned OS thread every time (the setting is per OS thread); train and embed
// pass it to torch.Pinned.
func Threads(ctx *stage.Context) int {
	if ctx.Threads > 0 {
		return ctx.Threads
	}
	return runtime.NumCPU()
}

func (t *trainer) loadPretrained() error {
	c := t.cfg
	switch {
	case c.NotPretrained:
		return nil
	case c.Pretrained != "":
		// The content key covers the file's digest (keyInputs); a file that changed since
		// the key was made would store a result under a key that does not describe it.
		sum, err := fileSHA256(c.Pretrained)
		if err != nil {
			return err
		}
		if want := t.ctx.KeyInputs; want != "" && want != sum {
			return fmt.Errorf("pretrained = %q changed since the plan was made (%s, the key has %s); run apply again", c.Pretrained, sum, want)
		}
		if err := t.model.LoadPretrained(c.Pretrained); err != nil {
			return err
		}
		t.pretrainedSHA = sum
		return nil
	case t.model.Arch.PretrainedDefault():
		return fmt.Errorf("arch %q starts from ImageNet weights in the original: set pretrained = \"<path>/%s.pth\" or not_pretrained = true",
			c.Arch, t.model.Arch.DefaultWeights())
	}
	return nil
}

func (t *trainer) close() {
	if t.model != nil {
		t.model.Close()
	}
	if t.crit != nil {
		criteria.Close(t.crit)
	}
	if t.opt != nil {
		t.opt.Close()
	}
	if t.data != nil {
		t.data.prep.Close()
	}
}

// epochResult is what one epoch reports.
type epochResult struct {
	loss    float64   // mean of the finite iteration losses
	terms   []float64 // each loss term's mean over the same steps (termNames' order)
	skipped int
	steps   int
}

// runEpoch trains one epoch (reference §8.4): re-seed, draw the batches, step through them.
func (t *trainer) runEpoch(epoch int) (epochResult, error) {
	var res epochResult
	seed := int64(t.cfg.Schedule.Epochs)*t.cfg.Seed + int64(epoch)
	torch.ManualSeed(uint64(seed))
	if t.minerRNG != nil {
		t.minerRNG.Seed(uint32(seed)) // the original seeds NumPy (the miners' source) per epoch
	}
	batches := t.data.epoch(seed)
	src := t.batches(epoch, batches) // may assemble each next batch while a step runs
	defer src.close()
	warmup := epoch < t.cfg.Schedule.Warmup
	bar := t.ctx.Progress.Start(fmt.Sprintf("epoch %d/%d", epoch+1, t.cfg.Schedule.Epochs), int64(len(batches)))
	defer bar.Finish()
	var sum float64
	termSums := make([]float64, len(t.termNames))
	var nfinite int
	for it := range batches {
		if err := t.ctx.Err(); err != nil {
			return res, err
		}
		var lv float64
		var tv []float64 // the loss terms' values (termed criteria)
		var skipped bool
		err := torch.WithScope(func() error {
			for _, p := range t.params {
				p.ZeroGrad()
			}
			x, y, err := src.tensors(it, t.dev)
			if err != nil {
				return err
			}
			// Forward and loss, under autocast when asked (the original's
			// --use_float16 wraps exactly these two); backward runs outside it.
			var out models.Output
			var loss *torch.Tensor
			var terms []*torch.Tensor
			t.autocast(func() {
				out = t.model.Forward(x, true, warmup)
				b := criteria.Batch{Embeds: out.Embeds, Labels: y, Features: out.Features, AvgFeatures: out.AvgFeatures, Iter: epoch*len(batches) + it}
				if t.termed != nil {
					loss, terms = t.termed.LossTerms(b)
				} else {
					loss = t.crit.Loss(b)
				}
			})
			if hasNaN(out.Embeds) {
				return fmt.Errorf("%w: epoch %d step %d: NaN in the embeddings", ErrNonFinite, epoch, it)
			}
			if lossHook != nil {
				loss = lossHook(epoch, it, loss)
			}
			if terms == nil {
				lv = loss.Item()
			} else {
				// One read for the total and its terms (one device sync, as Item alone).
				vals := append([]*torch.Tensor{loss.Detach().ToDType(torch.Float64)}, terms...)
				for i := range vals[1:] {
					vals[i+1] = vals[i+1].Detach().ToDType(torch.Float64)
				}
				all, err := torch.Stack(vals, 0).Float64s()
				if err != nil {
					return fmt.Errorf("epoch %d step %d: read the loss terms: %w", epoch, it, err)
				}
				lv, tv = all[0], all[1:]
			}
			if math.IsNaN(lv) {
				return fmt.Errorf("%w: epoch %d step %d: the loss is NaN", ErrNonFinite, epoch, it)
			}
			// The original's GradScaler on every step, also in float32 (reference §8.3):
			// scale 2^16, unscale before the step, skip a step whose unscaled gradients
			// are not finite and halve the scale, double it after 2000 good steps.
			t.scaler.Scale(loss).Backward()
			skipped = t.scaler.Step(t.opt)
			t.scaler.Update()
			return nil
		})
		if err != nil {
			return res, err
		}
		if err := failpoint.Inject("train.step"); err != nil {
			return res, err
		}
		res.steps++
		if skipped {
			res.skipped++
			t.consec++
		} else {
			t.consec = 0
		}
		if !math.IsInf(lv, 0) {
			sum += lv
			for i, v := range tv {
				termSums[i] += v
			}
			nfinite++
		}
		// The status goes first: a bar may print on Add (a plain-line bar prints when it
		// reaches its total), and the line printed for the last step must count that step,
		// as the log does.
		if nfinite > 0 {
			bar.SetStatus(fmt.Sprintf("loss %s skipped %d", stage.FormatLoss(sum/float64(nfinite)), res.skipped))
		} else {
			bar.SetStatus(fmt.Sprintf("loss - skipped %d", res.skipped))
		}
		bar.Add(1)
		if t.consec > t.cfg.MaxSkipped {
			return res, fmt.Errorf("%w: epoch %d step %d: %d consecutive steps skipped for non-finite gradients (max_skipped = %d); lower the learning rates (lr, proxy and flow multipliers)",
				ErrNonFinite, epoch, it, t.consec, t.cfg.MaxSkipped)
		}
	}
	res.loss = math.NaN()
	res.terms = make([]float64, len(termSums))
	for i := range res.terms {
		res.terms[i] = math.NaN()
	}
	if nfinite > 0 {
		res.loss = sum / float64(nfinite)
		for i, s := range termSums {
			res.terms[i] = s / float64(nfinite)
		}
	}
	return res, nil
}

// autocast runs fn under the device's autocast in the configured dtype, or plainly for "none".
func (t *trainer) autocast(fn func()) {
	switch t.cfg.Autocast {
	case "bf16":
		torch.Autocast(t.dev, torch.BFloat16, fn)
	case "f16":
		torch.Autocast(t.dev, torch.Float16, fn)
	default:
		fn()
	}
}

func hasNaN(x *torch.Tensor) bool { return x.Ne(x).Any().Item() != 0 }

// run trains from epoch start to the end, checkpointing after every epoch.
func (t *trainer) run(start int) error {
	for epoch := start; epoch < t.cfg.Schedule.Epochs; epoch++ {
		lrs := make([]float64, len(t.groupNames))
		for i := range lrs {
			lrs[i] = t.opt.LR(i)
		}
		t0 := time.Now()
		res, err := t.runEpoch(epoch)
		if err == nil {
			err = t.checkSkippedShare(epoch, res)
		}
		if err != nil {
			return fmt.Errorf("epoch %d: %w (last good checkpoint: %s)", epoch, err, lastGood(epoch))
		}
		secs := time.Since(t0).Seconds()
		if t.cfg.Schedule.Scheduler != "none" {
			t.sched.Step()
		}
		row := logRow{Epoch: epoch, Loss: res.loss, Terms: res.terms, Skipped: res.skipped, Steps: res.steps, LRs: lrs, Seconds: secs, EvalSeconds: math.NaN()}
		newBest := false
		if t.cfg.EvalEvery > 0 && (epoch+1)%t.cfg.EvalEvery == 0 {
			t1 := time.Now()
			if row.Evals, err = t.evaluate(); err != nil {
				return fmt.Errorf("epoch %d: evaluate: %w (last good checkpoint: %s)", epoch, err, lastGood(epoch))
			}
			row.EvalSeconds = time.Since(t1).Seconds()
			if evalHook != nil {
				evalHook(epoch, row.Evals)
			}
			// Selection: the first epoch with the largest value wins (a tie keeps the
			// earlier one); a value that is not a number is never selected. Its weights
			// are written before this epoch's file, which then names them.
			if sel := t.cfg.Select; sel.Metric != "" {
				v := row.Evals[evalColumn(sel.Split, sel.Metric)]
				if !math.IsNaN(v) && (t.best.Epoch < 0 || v > t.best.Value) {
					if err := t.saveBest(epoch, v); err != nil {
						return fmt.Errorf("epoch %d: best checkpoint: %w", epoch, err)
					}
					newBest = true
				}
			}
		}
		t.log = append(t.log, row)
		best := ""
		if newBest {
			best = fmt.Sprintf(" (best %s so far)", t.cfg.Select.Label())
		}
		fmt.Fprintf(t.ctx.Log, "%s epoch %d: loss %s skipped %d/%d lr %v %.1fs%s%s\n", t.ctx.Addr, epoch, stage.FormatLoss(res.loss), res.skipped, res.steps, lrs, secs, t.evalText(row.Evals), best)
		if err := t.saveEpoch(epoch); err != nil {
			return fmt.Errorf("epoch %d: checkpoint: %w", epoch, err)
		}
		if err := writeLog(t.ctx.OutDir, t.groupNames, t.termNames, t.evalCols, t.log); err != nil {
			return err
		}
		if err := failpoint.Inject("train.epoch-end"); err != nil {
			return err
		}
		if afterEpoch != nil {
			if err := afterEpoch(epoch); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkSkippedShare fails an epoch after warmup in which more than max_skipped_share of the
// steps were skipped: the network did not train on it (ErrNonFinite; the caller names the
// last good checkpoint, and this epoch's is not written).
func (t *trainer) checkSkippedShare(epoch int, res epochResult) error {
	share := t.cfg.MaxSkippedShare
	if epoch < t.cfg.Schedule.Warmup || res.steps == 0 || float64(res.skipped) <= share*float64(res.steps) {
		return nil
	}
	return fmt.Errorf("%w: %d of %d steps skipped for non-finite gradients (%.0f%%, more than max_skipped_share = %g): the network did not train on this epoch; lower the learning rates (lr, proxy and flow multipliers), or set max_skipped_share = 1 to keep such runs",
		ErrNonFinite, res.skipped, res.steps, 100*float64(res.skipped)/float64(res.steps), share)
}

// selecting says whether the train block selects an epoch (select.metric set).
func (t *trainer) selecting() bool { return t.cfg.Select.Metric != "" }

// lastGood names the newest epoch checkpoint an error in epoch leaves in place.
func lastGood(epoch int) string {
	if epoch == 0 {
		return "none yet"
	}
	return epochCheckpointName(epoch - 1)
}

// evalText is an epoch's evaluation for the log line (" val e_recall@1 0.4000 test ...").
func (t *trainer) evalText(evals map[string]float64) string {
	if evals == nil {
		return ""
	}
	var b strings.Builder
	for _, sp := range t.evalSplits {
		b.WriteString(" " + sp)
		for _, m := range t.evalNames {
			fmt.Fprintf(&b, " %s %.4f", m, evals[evalColumn(sp, m)])
		}
	}
	return b.String()
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
