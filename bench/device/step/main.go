// Command step is dmlrun's side of the device check's step benchmark
// (scripts/device-check.sh): seconds per training step of bench/device/devstep (model,
// oproxy criterion, Adam, always-on grad scaler, optional autocast, as stages/train runs
// them) on one device, with a fixed random batch made on that device (no data loading).
// bench/device/step.py is the PyTorch eager side of the same step.
//
// It prints one JSON object on stdout: side, arch, device, precision, batch, size, warmup,
// steps, s_per_step, img_per_s, the forward/backward/optimiser split, the losses of the
// first and last step, libtorch's version. Peak GPU memory is not in it: the shim has no
// allocator statistics (no torch.cuda.max_memory_allocated), so the device check samples
// nvidia-smi around this process instead.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"

	"dmlrun/bench/device/devstep"
	"dmlrun/torch"
)

type options struct {
	arch, device, precision string
	batch, size             int64
	steps, warmup, threads  int
}

type result struct {
	Side      string             `json:"side"`
	Arch      string             `json:"arch"`
	Device    string             `json:"device"`
	Precision string             `json:"precision"`
	Batch     int64              `json:"batch"`
	Size      int64              `json:"size"`
	Warmup    int                `json:"warmup"`
	Steps     int                `json:"steps"`
	SPerStep  float64            `json:"s_per_step"`
	ImgPerS   float64            `json:"img_per_s"`
	Split     map[string]float64 `json:"split_s_per_step"`
	LossFirst float64            `json:"loss_first"`
	LossLast  float64            `json:"loss_last"`
	Skipped   int                `json:"skipped_steps"`
	Torch     string             `json:"torch"`
	Threads   int                `json:"threads"`
}

func main() {
	var o options
	flag.StringVar(&o.arch, "arch", "resnet50_frozen_normalize", "stages/models architecture")
	flag.StringVar(&o.device, "device", "cuda:0", "cpu or cuda:N")
	flag.StringVar(&o.precision, "precision", "fp32", "fp32, bf16 or f16 (autocast of forward and loss)")
	flag.Int64Var(&o.batch, "batch", 90, "batch size (2 samples per class)")
	flag.Int64Var(&o.size, "size", 224, "image side")
	flag.IntVar(&o.steps, "steps", 50, "timed steps")
	flag.IntVar(&o.warmup, "warmup", 10, "untimed steps first")
	flag.IntVar(&o.threads, "threads", 0, "libtorch intra-op threads (0: libtorch's default)")
	flag.Parse()
	r, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/device/step:", err)
		os.Exit(1)
	}
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
}

func run(o options) (*result, error) {
	dev, err := torch.ParseDevice(o.device)
	if err != nil {
		return nil, err
	}
	ac := map[string]torch.DType{"fp32": torch.Float32, "bf16": torch.BFloat16, "f16": torch.Float16}
	dt, ok := ac[o.precision]
	if !ok {
		return nil, fmt.Errorf("precision %q: want fp32, bf16 or f16", o.precision)
	}
	if o.batch < 2 || o.batch%2 != 0 || o.steps < 1 || o.warmup < 0 {
		return nil, fmt.Errorf("batch %d (even, >= 2), steps %d (>= 1), warmup %d (>= 0)", o.batch, o.steps, o.warmup)
	}
	runtime.LockOSThread() // libtorch's thread count and autocast state are per OS thread
	defer runtime.UnlockOSThread()
	if o.threads > 0 {
		torch.SetNumThreads(o.threads)
	}
	const classes = 100
	torch.ManualSeed(0)
	st, err := devstep.New(devstep.Config{Arch: o.arch, EmbedDim: 128, Classes: classes, Loss: "oproxy",
		LR: 1e-5, Decay: 4e-4, Device: dev, Autocast: dt})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	res := &result{Side: "dmlrun", Arch: o.arch, Device: dev.String(), Precision: o.precision, Batch: o.batch, Size: o.size,
		Warmup: o.warmup, Steps: o.steps, Torch: torch.Version(), Threads: torch.NumThreads(), Split: map[string]float64{}}
	err = torch.WithScope(func() error {
		x := torch.Randn([]int64{o.batch, 3, o.size, o.size}, torch.Float32, dev)
		lab := make([]int64, o.batch)
		for i := range lab {
			lab[i] = int64(i/2) % classes
		}
		y, err := torch.FromInt64(lab, o.batch)
		if err != nil {
			return err
		}
		y = y.To(dev)
		var fwd, bwd, opt time.Duration
		step := func(i int) {
			_ = torch.WithScope(func() error {
				r := st.Run(x, y)
				if i == 0 {
					res.LossFirst = r.Loss
				}
				res.LossLast = r.Loss
				if r.Skipped {
					res.Skipped++
				}
				if i >= o.warmup {
					fwd, bwd, opt = fwd+r.Timing.Forward, bwd+r.Timing.Backward, opt+r.Timing.Optim
				}
				return nil
			})
		}
		for i := 0; i < o.warmup; i++ {
			step(i)
		}
		st.Sync()
		t0 := time.Now()
		for i := o.warmup; i < o.warmup+o.steps; i++ {
			step(i)
		}
		st.Sync()
		el := time.Since(t0).Seconds()
		n := float64(o.steps)
		res.SPerStep = el / n
		res.ImgPerS = float64(o.batch) * n / el
		res.Split["forward_loss"] = fwd.Seconds() / n
		res.Split["backward"] = bwd.Seconds() / n
		res.Split["unscale_adam"] = opt.Seconds() / n
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}
