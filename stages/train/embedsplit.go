package train

import (
	"fmt"
	"math"

	"dmlrun/internal/failpoint"
	"dmlrun/stage"
	"dmlrun/stages/evaluate/metrics"
	"dmlrun/stages/load"
	"dmlrun/stages/models"
	"dmlrun/torch"
)

// EmbedSplit runs the model in eval mode without gradients over a split in dataset order
// (reference §9.1), bs images per forward pass, and returns the embeddings (N x D,
// row-major) and labels. bar (may be nil) advances by the images done. The embed stage and
// training's eval_every both use it, so they embed alike.
func EmbedSplit(m *models.Model, s *load.Split, bs int, dev torch.Device, bar stage.Bar) ([]float32, []int64, error) {
	if bs < 1 {
		// The loop below would never advance.
		return nil, nil, fmt.Errorf("batch size %d: it must be at least 1", bs)
	}
	n := s.Len()
	out := make([]float32, 0, n*int(m.Dim))
	for lo := 0; lo < n; lo += bs {
		hi := min(lo+bs, n)
		idx := make([]int, hi-lo)
		for i := range idx {
			idx[i] = lo + i
		}
		err := torch.WithScope(func() error {
			data, shape := s.EvalBatch(idx)
			x, err := torch.FromFloat32(data, shape[:]...)
			if err != nil {
				return err
			}
			if dev.IsCUDA() {
				x = x.To(dev)
			}
			var z []float32
			torch.NoGrad(func() {
				z, err = m.Forward(x, false, false).Embeds.Float32s()
			})
			if err != nil {
				return err
			}
			out = append(out, z...)
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
	labels := append([]int64(nil), s.Labels()...)
	return out, labels, nil
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

// testRecall embeds the test split and returns e_recall@1 (the training loop's eval_every).
func (t *trainer) testRecall() (float64, error) {
	s, err := t.data.prep.Split("test")
	if err != nil {
		return 0, err
	}
	x, y, err := EmbedSplit(t.model, s, t.cfg.Schedule.BatchSize, t.dev, nil)
	if err != nil {
		return 0, err
	}
	r, err := metrics.Compute(metrics.Matrix{Data: x, Rows: len(y), Cols: int(t.model.Dim)}, y, []string{"e_recall@1"}, metrics.Options{})
	if err != nil {
		return 0, err
	}
	return r["e_recall@1"], nil
}
