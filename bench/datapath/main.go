// Command datapath measures what the data path adds to a training step after the first
// epoch, on the real emoji set prepared by the load stage.
//
// The data path of one batch is what stages/train does per step: the epoch's sampler draw
// (load.ClassRandomSampler re-seeded with the epoch seed, amortised over the epoch's
// batches), Split.TrainBatchInto (random resized crop + flip + normalisation into NCHW
// float32) and torch.FromFloat32 / torch.FromInt64 for images and labels. stages/train
// keeps that code in unexported functions, so this program calls the same exported
// functions in the same order (stages/train/data.go fill(), prefetch.go hostBatch.tensors(),
// inline as stages/train runs when libtorch has every CPU; the overlap with the step that
// stages/train does otherwise is measured by overlap.sh).
//
// The step is bench/internal/trainstep (shared with bench/train) on the batch the data
// path just made: forward, loss, backward of the scaled loss, unscale, Adam.
//
// Epoch 0 is run first and not timed (it faults the memory-mapped shards in and warms
// both paths); then -steps batches run data path + step, each timed separately, and
// -epochs further full epochs run the data path alone. Medians are reported because the
// machine this was written on is shared; data_over_step_pct is the ratio of the medians,
// median_batch_pct the median of the per-batch ratios. Prints one result line (key=value) on stdout.
//
// It is not a throughput benchmark of decoding (bench/load) nor a dmlrun-vs-PyTorch step
// comparison (bench/train).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"time"

	"dmlrun/bench/internal/trainstep"
	"dmlrun/stage"
	"dmlrun/stages/load"
	"dmlrun/torch"
)

type options struct {
	data, cache, arch, prof string
	base, crop, batch, spc  int
	embed                   int64
	threads, steps, epochs  int
	seed                    int64
}

func main() {
	var o options
	flag.StringVar(&o.data, "data", "data", "DATA_DIR of scripts/fetch-data.sh (emoji under DATA_DIR/emoji)")
	flag.StringVar(&o.cache, "cache", filepath.Join(os.TempDir(), "dmlrun-datapath"), "where the prepared dataset is kept between runs")
	flag.StringVar(&o.arch, "arch", "smallcnn_normalize", "stages/models architecture of the step (\"\" or -steps 0: data path only)")
	flag.StringVar(&o.prof, "cpuprofile", "", "write a CPU profile of the data-path-only epochs here")
	flag.IntVar(&o.base, "base", 36, "stored image side (load stage base)")
	flag.IntVar(&o.crop, "crop", 32, "training crop (load stage crop)")
	flag.IntVar(&o.batch, "batch", 90, "batch size")
	flag.IntVar(&o.spc, "spc", 2, "samples per class (class_random sampler)")
	flag.Int64Var(&o.embed, "embed", 64, "embedding size")
	flag.IntVar(&o.threads, "threads", runtime.NumCPU(), "libtorch intra-op threads (stages/train's default: all CPUs)")
	flag.IntVar(&o.steps, "steps", 10, "timed batches of data path + step")
	flag.IntVar(&o.epochs, "epochs", 5, "further epochs of the data path alone, timed")
	flag.Int64Var(&o.seed, "seed", 0, "run seed (sampler and augmentation streams)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench/datapath:", err)
		os.Exit(1)
	}
}

// prepare runs the load stage (kind emoji, google + twitter) into cache/emoji-<base>-<crop>
// unless a dataset.json is already there.
func prepare(o options) (string, error) {
	dir := filepath.Join(o.cache, fmt.Sprintf("emoji-%d-%d", o.base, o.crop))
	if _, err := os.Stat(filepath.Join(dir, "dataset.json")); err == nil {
		return dir, nil
	}
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return "", err
	}
	opt := load.Options{Kind: "emoji", Root: filepath.Join(o.data, "emoji"), Base: o.base, Crop: o.crop,
		Mean: load.ResNetMean, Std: load.ResNetStd, Vendors: []string{"google", "twitter"}, StatCache: "off"}
	if _, err := load.Prepare(context.Background(), opt, tmp, os.Stderr, nil); err != nil {
		return "", fmt.Errorf("prepare %s (run scripts/fetch-data.sh?): %w", opt.Root, err)
	}
	return dir, os.Rename(tmp, dir)
}

// dataPath is stages/train's trainData reduced to what one class_random run uses.
type dataPath struct {
	split   *load.Split
	py      *load.PyRandom
	sampler *load.ClassRandomSampler
	seed    int64
	epochs  int64 // a nominal run length for the epoch seed (only the seeds depend on it)

	data   []float32 // the batch buffers, reused as stages/train reuses its own
	labels []int64
}

// epoch re-seeds Python random with the epoch seed and draws the epoch's batches.
func (d *dataPath) epoch(e int) [][]int {
	d.py.Seed(load.EpochSeed(d.seed, d.epochs, int64(e)))
	return d.sampler.Epoch()
}

// fill is stages/train/data.go's fill(): batch b of epoch e's augmented, normalised images
// and labels into d's reused buffers, on every CPU.
func (d *dataPath) fill(e, b int, idx []int) [4]int64 {
	var shape [4]int64
	d.data, shape = d.split.TrainBatchInto(d.data, idx, load.Augmenter{Seed: d.seed, Epoch: e, Batch: b, Mode: "base"}, 0)
	labels := d.split.Labels()
	d.labels = d.labels[:0]
	for _, j := range idx {
		d.labels = append(d.labels, labels[j])
	}
	return shape
}

// tensors is stages/train's hostBatch.tensors() on the CPU: the filled batch as tensors
// (in the caller's torch scope).
func (d *dataPath) tensors(shape [4]int64) (x, y *torch.Tensor, err error) {
	x, err = torch.FromFloat32(d.data, shape[:]...)
	if err != nil {
		return nil, nil, err
	}
	y, err = torch.FromInt64(d.labels, int64(len(d.labels)))
	return x, y, err
}

// batch is fill then tensors.
func (d *dataPath) batch(e, b int, idx []int) (x, y *torch.Tensor, err error) {
	return d.tensors(d.fill(e, b, idx))
}

func median(ds []time.Duration) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return float64(m) / 1e6
}

func run(o options) error {
	runtime.LockOSThread() // libtorch's thread count is per OS thread, as in stages/train
	defer runtime.UnlockOSThread()
	torch.SetNumThreads(o.threads)
	torch.ManualSeed(uint64(o.seed))

	dir, err := prepare(o)
	if err != nil {
		return err
	}
	p, err := load.Open(dir)
	if err != nil {
		return err
	}
	defer p.Close()
	split, err := p.Split("train")
	if err != nil {
		return err
	}
	d := &dataPath{split: split, py: load.NewPyRandom(o.seed), seed: o.seed, epochs: 1000}
	d.sampler, err = load.NewClassRandomSampler(split.ClassIndex(), o.batch, o.spc, d.py)
	if err != nil {
		return err
	}
	nb := d.sampler.Len()

	var st *trainstep.Step
	if o.arch != "" && o.steps > 0 {
		st, err = trainstep.New(trainstep.Config{Arch: o.arch, EmbedDim: o.embed, Classes: split.NumClasses(),
			Loss: "oproxy", LossArgs: stage.Params{"lrmulti": 20.0}, LR: 1e-3, Decay: 4e-4})
		if err != nil {
			return err
		}
		defer st.Close()
	}

	// Epoch 0, untimed: the data path for every batch; steps for the first two only
	// (libtorch's first calls allocate and pick kernels).
	for b, idx := range d.epoch(0) {
		err := torch.WithScope(func() error {
			x, y, err := d.batch(0, b, idx)
			if err == nil && st != nil && b < 2 {
				st.Run(x, y)
			}
			return err
		})
		if err != nil {
			return err
		}
	}

	// Data path + step, interleaved as in training (the step evicts the caches the data
	// path would otherwise find warm).
	var drawPer time.Duration // sampler draw per batch, amortised over the epoch
	var dataT, stepT, fwdT, bwdT, optT []time.Duration
	e := 1
	for st != nil && len(stepT) < o.steps {
		t0 := time.Now()
		batches := d.epoch(e)
		drawPer = time.Since(t0) / time.Duration(nb)
		for b, idx := range batches {
			if len(stepT) == o.steps {
				break
			}
			err := torch.WithScope(func() error {
				t0 := time.Now()
				x, y, err := d.batch(e, b, idx)
				if err != nil {
					return err
				}
				dataT = append(dataT, time.Since(t0)+drawPer)
				_, _, t := st.Run(x, y)
				stepT, fwdT, bwdT, optT = append(stepT, t.Total()), append(fwdT, t.Forward), append(bwdT, t.Backward), append(optT, t.Optim)
				return nil
			})
			if err != nil {
				return err
			}
		}
		e++
	}

	// Data path alone, full epochs.
	if o.prof != "" {
		f, err := os.Create(o.prof)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var aloneT, drawT, augT, tensT []time.Duration
	for k := 0; k < o.epochs; k++ {
		t0 := time.Now()
		batches := d.epoch(e)
		draw := time.Since(t0) / time.Duration(nb)
		for b, idx := range batches {
			err := torch.WithScope(func() error {
				t0 := time.Now()
				shape := d.fill(e, b, idx)
				t1 := time.Now()
				if _, _, err := d.tensors(shape); err != nil {
					return err
				}
				t2 := time.Now()
				drawT, augT, tensT = append(drawT, draw), append(augT, t1.Sub(t0)), append(tensT, t2.Sub(t1))
				aloneT = append(aloneT, t2.Sub(t0)+draw)
				return nil
			})
			if err != nil {
				return err
			}
		}
		e++
	}

	fmt.Printf("arch=%s base=%d crop=%d batch=%d spc=%d threads=%d cpus=%d train_images=%d classes=%d batches_per_epoch=%d",
		o.arch, o.base, o.crop, o.batch, o.spc, o.threads, runtime.NumCPU(), split.Len(), split.NumClasses(), nb)
	if len(stepT) > 0 {
		dm, sm := median(dataT), median(stepT)
		// Per-batch ratios: a load spike from other jobs then moves numerator and
		// denominator of one sample together.
		var ratio []float64
		for i := range stepT {
			ratio = append(ratio, 100*float64(dataT[i])/float64(stepT[i]))
		}
		slices.Sort(ratio)
		fmt.Printf(" steps=%d data_ms=%.3f step_ms=%.1f fwd_ms=%.1f bwd_ms=%.1f optim_ms=%.1f data_over_step_pct=%.2f median_batch_pct=%.2f max_batch_pct=%.2f",
			len(stepT), dm, sm, median(fwdT), median(bwdT), median(optT), 100*dm/sm, ratio[len(ratio)/2], ratio[len(ratio)-1])
	}
	if len(aloneT) > 0 {
		fmt.Printf(" alone_batches=%d alone_data_ms=%.3f alone_draw_ms=%.3f alone_trainbatch_ms=%.3f alone_tensor_ms=%.3f",
			len(aloneT), median(aloneT), median(drawT), median(augT), median(tensT))
	}
	fmt.Println()
	return nil
}
