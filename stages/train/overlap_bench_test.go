package train

// Benchmarks of what the overlap work of issue 17 saves, on the real code paths (they are
// unexported, hence here and not under bench/; bench/datapath/overlap.sh runs them and
// bench/datapath/README.md holds the figures):
//
//   - BenchmarkEpochPrefetch: runEpoch, data path and training steps, with the next batch
//     assembled on the prefetch goroutine while a step runs and without (prefetchOn and
//     prefetchOff, whatever prefetchPlan would choose);
//   - BenchmarkEvalReuse: evaluate's embedding of the test split, EmbedSplit with fresh
//     buffers per call against an Embedder kept from call to call.
//
// Each iteration runs both modes one after the other, in alternating order, so that load
// from other jobs on a shared machine hits both alike; the per-mode figures are custom
// metrics (ns/op is the pair). They need the emoji set (scripts/fetch-data.sh, or
// DMLRUN_EMOJI naming the folder) and skip without it; the prepared dataset is cached
// where bench/datapath keeps it. Run with -benchtime=Nx (N pairs).

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"dmlrun/stage"
	"dmlrun/stages/load"
	"dmlrun/stages/models"
	"dmlrun/torch"
)

// overlapThreads is the libtorch thread count of the benchmarks: 2 (issue 17), or
// DMLRUN_BENCH_THREADS.
var overlapThreads = func() int {
	if n, err := strconv.Atoi(os.Getenv("DMLRUN_BENCH_THREADS")); err == nil && n > 0 {
		return n
	}
	return 2
}()

// overlapProtocols are smallcnn at 32 px (the quickstart's protocol) and ResNet18 (frozen
// BN, random weights: the time does not depend on them) at 64 px, batch 90, 2 per class.
// batches > 0 cuts ResNet's epochs to that many batches to keep a run short.
var overlapProtocols = []struct {
	name       string
	arch       string
	base, crop int
	embed      int64
	batches    int
}{
	{"smallcnn_32", "smallcnn_normalize", 36, 32, 64, 0},
	{"resnet18_64", "resnet18_frozen_normalize", 72, 64, 128, 6},
}

// emojiDataset is bench/datapath's prepared emoji set (google + twitter) at base/crop,
// prepared on first use into the same cache folder.
func emojiDataset(b *testing.B, base, crop int) string {
	root := os.Getenv("DMLRUN_EMOJI")
	if root == "" {
		root = filepath.Join("..", "..", "data", "emoji")
	}
	dir := filepath.Join(os.TempDir(), "dmlrun-datapath", fmt.Sprintf("emoji-%d-%d", base, crop))
	if _, err := os.Stat(filepath.Join(dir, "dataset.json")); err == nil {
		return dir
	}
	if _, err := os.Stat(root); err != nil {
		b.Skipf("no emoji set at %s (run scripts/fetch-data.sh or set DMLRUN_EMOJI): %v", root, err)
	}
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		b.Fatal(err)
	}
	opt := load.Options{Kind: "emoji", Root: root, Base: base, Crop: crop,
		Mean: load.ResNetMean, Std: load.ResNetStd, Vendors: []string{"google", "twitter"}, StatCache: "off"}
	if _, err := load.Prepare(context.Background(), opt, tmp, io.Discard, nil); err != nil {
		b.Fatalf("prepare %s: %v", root, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		b.Fatal(err)
	}
	return dir
}

// firstBatches cuts a sampler's epochs to their first n batches (after the full draw).
type firstBatches struct {
	load.Sampler
	n int
}

func (f firstBatches) Epoch() [][]int { return f.Sampler.Epoch()[:min(f.n, f.Sampler.Len())] }

// measured accumulates one mode's wall time and Go heap allocation over its runs.
type measured struct {
	runs          int
	wall          time.Duration
	bytes, allocs uint64
}

// time runs fn once, adding its wall time and the bytes and objects allocated meanwhile
// (runtime.MemStats counters, all goroutines: the prefetch goroutine's work counts).
func (m *measured) time(fn func() error) error {
	var a, z runtime.MemStats
	runtime.ReadMemStats(&a)
	t0 := time.Now()
	err := fn()
	d := time.Since(t0)
	runtime.ReadMemStats(&z)
	m.runs++
	m.wall += d
	m.bytes += z.TotalAlloc - a.TotalAlloc
	m.allocs += z.Mallocs - a.Mallocs
	return err
}

// report writes m's means per run as metrics named <mode>-ms, <mode>-MB, <mode>-allocs.
func (m *measured) report(b *testing.B, mode string) {
	if m.runs == 0 {
		return
	}
	n := float64(m.runs)
	b.ReportMetric(float64(m.wall.Microseconds())/1e3/n, mode+"-ms")
	b.ReportMetric(float64(m.bytes)/1e6/n, mode+"-MB")
	b.ReportMetric(float64(m.allocs)/n, mode+"-allocs")
}

// BenchmarkEpochPrefetch: one epoch of training (runEpoch) with and without prefetch.
// The saving can be at most the data path's time (data-ms per batch, measured alone at
// the end, times the batches), and less on a machine whose cores libtorch's threads
// already fill.
func BenchmarkEpochPrefetch(b *testing.B) {
	for _, p := range overlapProtocols {
		b.Run(p.name, func(b *testing.B) {
			dir := emojiDataset(b, p.base, p.crop)
			params := fill(Def().Params)
			params["arch"] = p.arch
			params["embed_dim"] = p.embed
			params["not_pretrained"] = true
			params["loss"] = lossParams("oproxy", nil)
			s := params.Object("schedule")
			s["epochs"] = int64(1000) // only the epoch seeds depend on it
			s["batch_size"] = int64(90)
			s["samples_per_class"] = int64(2)
			s["lr"] = 1e-3
			s["augmentation"] = "base"
			cfg, err := parseConfig(params)
			if err != nil {
				b.Fatal(err)
			}
			ctx := &stage.Context{Context: context.Background(), Addr: "bench.overlap", Params: params,
				Inputs: []stage.Input{{Param: "dataset", Addr: "dataset.emoji", Block: "emoji", Stage: "dataset", Key: "bench", Dir: dir}},
				OutDir: b.TempDir(), Log: io.Discard, Progress: nopProgress{}, Device: "cpu", Threads: overlapThreads}
			defer func() { prefetch = prefetchAuto }()
			err = torch.Pinned(overlapThreads, func() error {
				t, err := newTrainer(ctx, cfg, builtinOptions)
				if err != nil {
					return err
				}
				defer t.close()
				if p.batches > 0 {
					t.data.sampler = firstBatches{t.data.sampler, p.batches}
				}
				nb := len(t.data.epoch(0))
				// Warm-up, untimed: faults the shards in, lets libtorch allocate.
				for _, mode := range []prefetchMode{prefetchOff, prefetchOn} {
					prefetch = mode
					if _, err := t.runEpoch(0); err != nil {
						return err
					}
				}
				var m [2]measured // [inline, prefetch]
				e := 1
				for b.Loop() {
					for k := 0; k < 2; k++ {
						mode := (k + e) % 2 // alternate which mode goes first
						prefetch = [2]prefetchMode{prefetchOff, prefetchOn}[mode]
						if err := m[mode].time(func() error { _, err := t.runEpoch(e); return err }); err != nil {
							return err
						}
					}
					e++
				}
				b.StopTimer()
				var alone measured // the data path alone: every batch of one epoch, inline
				var hb hostBatch
				for it, idx := range t.data.epoch(0) {
					alone.time(func() error { t.data.fill(&hb, 0, it, idx, 0); return nil })
				}
				m[0].report(b, "inline")
				m[1].report(b, "prefetch")
				alone.report(b, "data-per-batch")
				b.ReportMetric(float64(nb), "batches")
				if m[0].runs > 0 {
					b.ReportMetric(100*(1-float64(m[1].wall)/float64(m[0].wall)), "saved-%")
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkEvalReuse: evaluate's embedding of the test split (batch 90, as eval_every
// embeds with the training batch size) three ways: allocating every batch as EmbedSplit
// did before the Embedder (embedPerBatch), with buffers reused within one call
// (EmbedSplit now, the embed stage's call) and with an Embedder kept across calls
// (training's evaluate, from its second evaluation on).
func BenchmarkEvalReuse(b *testing.B) {
	for _, p := range overlapProtocols {
		b.Run(p.name, func(b *testing.B) {
			dir := emojiDataset(b, p.base, p.crop)
			prep, err := load.Open(dir)
			if err != nil {
				b.Fatal(err)
			}
			defer prep.Close()
			split, err := prep.Split("test")
			if err != nil {
				b.Fatal(err)
			}
			err = torch.Pinned(overlapThreads, func() error {
				torch.ManualSeed(0)
				mdl, err := models.New(p.arch, p.embed, torch.CPUDevice)
				if err != nil {
					return err
				}
				defer mdl.Close()
				var kept Embedder
				run := [3]func() error{
					func() error { _, _, err := embedPerBatch(mdl, split, 90); return err },
					func() error { _, _, err := EmbedSplit(mdl, split, 90, torch.CPUDevice, nil); return err },
					func() error { _, _, err := kept.Embed(mdl, split, 90, torch.CPUDevice, nil); return err },
				}
				for _, fn := range run { // warm-up; the Embedder's buffers are sized here
					if err := fn(); err != nil {
						return err
					}
				}
				var m [3]measured // [per-batch, fresh, reuse]
				i := 0
				for b.Loop() {
					for k := 0; k < 3; k++ {
						mode := (k + i) % 3 // rotate which mode goes first
						if err := m[mode].time(run[mode]); err != nil {
							return err
						}
					}
					i++
				}
				m[0].report(b, "perbatch")
				m[1].report(b, "fresh")
				m[2].report(b, "reuse")
				b.ReportMetric(float64(split.Len()), "images")
				if m[0].runs > 0 {
					b.ReportMetric(100*(1-float64(m[2].wall)/float64(m[0].wall)), "saved-%")
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		})
	}
}

// embedPerBatch is EmbedSplit as it was before the Embedder (commit b72f1c3's parent),
// kept for this comparison: new indices, images and embeddings every batch, the result
// grown by append from an N x D capacity. (Its EvalBatch also copied every image's centre
// crop out before normalising it, 3*crop*crop bytes per image, which load no longer does;
// that part is not reproduced here.)
func embedPerBatch(m *models.Model, s *load.Split, bs int) ([]float32, []int64, error) {
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
			return nil, nil, err
		}
	}
	return out, append([]int64(nil), s.Labels()...), nil
}
