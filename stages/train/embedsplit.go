package train

import (
	"fmt"
	"math"
	"slices"

	"dmlrun/internal/failpoint"
	"dmlrun/stage"
	"dmlrun/stages/evaluate/metrics"
	"dmlrun/stages/evaluate/metrics/torchbackend"
	"dmlrun/stages/load"
	"dmlrun/stages/models"
	"dmlrun/torch"
)

// EmbedSplit runs the model in eval mode without gradients over a split in dataset order
// (reference §9.1), bs images per forward pass, and returns the embeddings (N x D,
// row-major) and labels, newly allocated. bar (may be nil) advances by the images done.
// The embed stage and training's eval_every both use it (the latter through an Embedder
// it keeps), so they embed alike.
func EmbedSplit(m *models.Model, s *load.Split, bs int, dev torch.Device, bar stage.Bar) ([]float32, []int64, error) {
	var e Embedder
	return e.Embed(m, s, bs, dev, bar)
}

// Embedder is EmbedSplit with buffers kept from call to call: the batch's indices, its
// images (load.Split.EvalBatchInto), the embeddings and the labels. A training that
// evaluates every epoch embeds the same splits again and again; reusing one set saves an
// allocation of every batch's images and of the N x D result each time. The zero value is
// ready; an Embedder is not safe for concurrent use.
type Embedder struct {
	// Autocast, when not nil, runs each forward pass (training's evaluation under the
	// train block's autocast: the original's --use_float16 autocasts the evaluation
	// forward too, reference §8.6); the embeddings come back as float32 either way.
	Autocast func(func())

	idx    []int
	data   []float32
	out    []float32
	labels []int64
}

// Embed is EmbedSplit, except that the returned slices are the Embedder's: they stay
// valid only until its next Embed.
func (e *Embedder) Embed(m *models.Model, s *load.Split, bs int, dev torch.Device, bar stage.Bar) ([]float32, []int64, error) {
	if bs < 1 {
		// The loop below would never advance.
		return nil, nil, fmt.Errorf("batch size %d: it must be at least 1", bs)
	}
	n := s.Len()
	if need := n * int(m.Dim); cap(e.out) < need {
		e.out = make([]float32, 0, need) // once, not grown by the appends below
	}
	e.out = e.out[:0]
	for lo := 0; lo < n; lo += bs {
		hi := min(lo+bs, n)
		e.idx = e.idx[:0]
		for i := lo; i < hi; i++ {
			e.idx = append(e.idx, i)
		}
		err := torch.WithScope(func() error {
			var shape [4]int64
			e.data, shape = s.EvalBatchInto(e.data, e.idx)
			x, err := torch.FromFloat32(e.data, shape[:]...)
			if err != nil {
				return err
			}
			if dev.IsCUDA() {
				x = x.To(dev)
			}
			var z []float32
			forward := func() {
				torch.NoGrad(func() {
					z, err = m.Forward(x, false, false).Embeds.Float32s()
				})
			}
			if e.Autocast != nil {
				e.Autocast(forward)
			} else {
				forward()
			}
			if err != nil {
				return err
			}
			e.out = append(e.out, z...)
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("images %d..%d: %w", lo, hi-1, err)
		}
		if err := failpoint.Inject("embed.batch"); err != nil {
			return nil, nil, err
		}
		if bar != nil {
			bar.Add(int64(hi - lo))
		}
	}
	e.labels = append(e.labels[:0], s.Labels()...)
	return e.out, e.labels, nil
}

// NonFinite counts the rows of x (row-major, dim values a row) that hold a NaN or an
// infinity, and returns that count and the index of the first such row (-1 when there is
// none). The embed stage refuses such embeddings, and training's evaluation too: every
// metric of a NaN row is meaningless, yet some (Recall@K, NMI) still come out as numbers.
func NonFinite(x []float32, dim int) (rows, first int) {
	first = -1
	if dim < 1 {
		return 0, first
	}
	for i := 0; i+dim <= len(x); i += dim {
		for _, v := range x[i : i+dim] {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				if first < 0 {
					first = i / dim
				}
				rows++
				break
			}
		}
	}
	return rows, first
}

// evalSplits are the splits training evaluates on, in column order, when the dataset has
// them: the class-disjoint validation split (load's val_split) and the test split.
var evalSplits = []string{"val", "test"}

// evalColumn is the train_log.csv column of metric on split.
func evalColumn(split, metric string) string { return split + "_" + metric }

// setupEval decides what eval_every evaluates: eval_metrics (and select.metric, appended
// when it is not among them) on
// every split of evalSplits that the dataset has, and the log columns that gives.
func (t *trainer) setupEval() {
	if t.cfg.EvalEvery == 0 {
		return
	}
	t.evalNames = append([]string(nil), t.cfg.EvalMetrics...)
	if m := t.cfg.Select.Metric; m != "" && !slices.Contains(t.evalNames, m) {
		t.evalNames = append(t.evalNames, m) // logged too, so the choice can be read back
	}
	for _, sp := range evalSplits {
		if _, err := t.data.prep.Split(sp); err != nil {
			continue
		}
		t.evalSplits = append(t.evalSplits, sp)
		for _, m := range t.evalNames {
			t.evalCols = append(t.evalCols, evalColumn(sp, m))
		}
	}
}

// evaluate embeds each evaluated split with the current network (eval mode, no
// gradients, as the embed stage does) and computes the metrics on it with the evaluate
// stage's backend (torchbackend: search and k-means assignment as matrix products on the
// node's device; the pure-Go backend took 1.9 s of every epoch for k-means alone on the
// emoji test split, against a 14 s epoch). k-means (nmi, f1) uses the number of training classes,
// as the evaluate stage does by default. NaN or infinite embeddings are an error wrapping
// ErrNonFinite.
func (t *trainer) evaluate() (map[string]float64, error) {
	out := map[string]float64{}
	for _, sp := range t.evalSplits {
		s, err := t.data.prep.Split(sp)
		if err != nil {
			return nil, err
		}
		// x and y are the trainer's buffers, overwritten by the next split's embedding:
		// they are used up here, before it.
		t.data.eval.Autocast = t.autocast
		x, y, err := t.data.eval.Embed(t.model, s, t.cfg.Schedule.BatchSize, t.dev, nil)
		if err != nil {
			return nil, fmt.Errorf("%s split: %w", sp, err)
		}
		if n, first := NonFinite(x, int(t.model.Dim)); n > 0 {
			return nil, fmt.Errorf("%w: %d of %d images of the %s split embed as NaN or Inf (the first is image %d)", ErrNonFinite, n, len(y), sp, first)
		}
		r, err := metrics.Compute(metrics.Matrix{Data: x, Rows: len(y), Cols: int(t.model.Dim)}, y, t.evalNames, metrics.Options{KMeansK: t.numClasses, Backend: torchbackend.Backend{Device: t.dev}})
		if err != nil {
			return nil, fmt.Errorf("%s split: %w", sp, err)
		}
		for _, m := range t.evalNames {
			out[evalColumn(sp, m)] = r[m]
		}
	}
	return out, nil
}
