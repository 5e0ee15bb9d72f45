package train

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"dmlrun/internal/failpoint"
	"dmlrun/stage"
	"dmlrun/stages/evaluate/metrics"
	"dmlrun/stages/load"
	"dmlrun/stages/models"
	"dmlrun/torch"
)

// embedInfo is embed.json.
type embedInfo struct {
	Split        string `json:"split"`
	N            int    `json:"n"`
	Dim          int64  `json:"dim"`
	ModelBlock   string `json:"model_block"`
	ModelAddr    string `json:"model_addr"`
	ModelKey     string `json:"model_key"`
	Seed         int64  `json:"seed"`
	TrainClasses int    `json:"train_classes"`
	Arch         string `json:"arch"`
	Loss         string `json:"loss"`
}

// embedSplit runs the model in eval mode without gradients over a split in dataset order
// (reference §9.1) and returns the embeddings (N x D, row-major) and labels.
func embedSplit(m *models.Model, s *load.Split, bs int, dev torch.Device, bar stage.Bar) ([]float32, []int64, error) {
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

// testRecall embeds the test split and returns e_recall@1 (the training loop's eval_every).
func (t *trainer) testRecall() (float64, error) {
	s, err := t.data.prep.Split("test")
	if err != nil {
		return 0, err
	}
	x, y, err := embedSplit(t.model, s, t.cfg.BatchSize, t.dev, nil)
	if err != nil {
		return 0, err
	}
	r, err := metrics.Compute(metrics.Matrix{Data: x, Rows: len(y), Cols: int(t.model.Dim)}, y, []string{"e_recall@1"}, metrics.Options{})
	if err != nil {
		return 0, err
	}
	return r["e_recall@1"], nil
}

// loadTrained rebuilds a trained model from a train artifact directory.
func loadTrained(dir string, dev torch.Device) (*models.Model, *modelInfo, error) {
	info, err := readModelInfo(dir)
	if err != nil {
		return nil, nil, err
	}
	torch.ManualSeed(uint64(info.Seed))
	m, err := models.New(info.Arch, info.EmbedDim, dev)
	if err != nil {
		return nil, nil, err
	}
	sd, _, _, err := torch.LoadSafetensors(filepath.Join(dir, info.Checkpoint))
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	defer func() {
		for _, t := range sd {
			t.Close()
		}
	}()
	ms := map[string]*torch.Tensor{}
	for k, v := range sd {
		if n, ok := strings.CutPrefix(k, "model."); ok {
			ms[n] = v
		}
	}
	if err := m.LoadState(ms, nil); err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("%s: %w", info.Checkpoint, err)
	}
	return m, info, nil
}

func runEmbed(ctx *stage.Context) error {
	// spec rejects a smaller batch_size where it is written (the schema's Min); this
	// guards direct callers and stored parameters.
	if bs := ctx.Params.Int("batch_size"); bs < 1 {
		return fmt.Errorf("embed %s: batch_size is %d; it must be at least 1 (images per forward pass)", ctx.Addr, bs)
	}
	err := torch.Pinned(threads(ctx), func() error {
		mins, dins := ctx.InputsOf("models"), ctx.InputsOf("dataset")
		if len(mins) != 1 || len(dins) != 1 {
			return fmt.Errorf("want one model and one dataset input, got %d and %d", len(mins), len(dins))
		}
		min, din := mins[0], dins[0]
		dev, err := torch.ParseDevice(ctx.Device)
		if err != nil {
			return err
		}
		m, info, err := loadTrained(min.Dir, dev)
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
		split := ctx.Params.String("split")
		s, err := p.Split(split)
		if err != nil {
			return fmt.Errorf("dataset %s: %w", din.Addr, err)
		}
		bar := ctx.Progress.Start(split, int64(s.Len()))
		x, y, err := embedSplit(m, s, int(ctx.Params.Int("batch_size")), dev, bar)
		bar.Finish()
		if err != nil {
			return err
		}
		if err := writeEmbeddings(filepath.Join(ctx.OutDir, "embeddings.safetensors"), x, y, m.Dim); err != nil {
			return err
		}
		ei := embedInfo{Split: split, N: len(y), Dim: m.Dim, ModelBlock: min.Block, ModelAddr: min.Addr, ModelKey: min.Key,
			Seed: info.Seed, TrainClasses: info.TrainClasses, Arch: info.Arch, Loss: info.Loss}
		b, _ := json.MarshalIndent(ei, "", "  ")
		if err := writeFileAtomic(filepath.Join(ctx.OutDir, "embed.json"), append(b, '\n')); err != nil {
			return err
		}
		return copyFile(filepath.Join(min.Dir, "train_log.csv"), filepath.Join(ctx.OutDir, "train_log.csv"))
	})
	if err != nil {
		return fmt.Errorf("embed %s: %w", ctx.Addr, err)
	}
	return nil
}

func writeEmbeddings(path string, x []float32, y []int64, dim int64) error {
	return torch.WithScope(func() error {
		n := int64(len(y))
		xt, err := torch.FromFloat32(x, n, dim)
		if err != nil {
			return err
		}
		yt, err := torch.FromInt64(y, n)
		if err != nil {
			return err
		}
		return saveAtomic(path, []string{"embeds", "labels"}, []*torch.Tensor{xt, yt}, nil)
	})
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
