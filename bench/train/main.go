// Command bench/train times one dmlrun training step, the same step as bench/train/step.py
// does in PyTorch, so the two can be compared side by side (bench/train/run.sh).
//
// One step (bench/internal/trainstep, shared with bench/datapath) = zero grads (set to
// undefined) + forward in training mode + ProxyAnchor loss (stages/train/criteria "oproxy",
// 100 classes) + backward of loss * 2^16 + unscale and finite check of every gradient +
// Adam step (network lr 1e-5 wd 4e-4, proxies lr 0.02), with torch/optim's GradScaler as
// stages/train uses it.
//
// The input is one fixed random batch: data loading and augmentation are not timed on
// either side. Prints "<arch> <seconds per step>".
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"

	"dmlrun/bench/internal/trainstep"
	"dmlrun/torch"
)

func main() {
	arch := flag.String("arch", "resnet18", "resnet18 (frozen BN, as resnet18_frozen_normalize) or smallcnn (smallcnn_normalize)")
	threads := flag.Int("threads", 1, "libtorch intra-op threads")
	size := flag.Int64("size", 64, "image side")
	batch := flag.Int64("batch", 90, "batch size (2 samples per class)")
	steps := flag.Int("steps", 20, "timed steps")
	warm := flag.Int("warmup", 3, "untimed steps first")
	autocast := flag.String("autocast", "none", "none or bf16 (forward and loss under CPU bfloat16 autocast)")
	flag.Parse()
	if *autocast != "none" && *autocast != "bf16" {
		fmt.Fprintf(os.Stderr, "bench/train: -autocast %q: want none or bf16\n", *autocast)
		os.Exit(2)
	}
	if err := run(*arch, *threads, *size, *batch, *steps, *warm, *autocast == "bf16"); err != nil {
		fmt.Fprintln(os.Stderr, "bench/train:", err)
		os.Exit(1)
	}
}

func run(arch string, threads int, size, batch int64, steps, warm int, bf16 bool) error {
	name := map[string]string{"resnet18": "resnet18_frozen_normalize", "smallcnn": "smallcnn_normalize"}[arch]
	if name == "" {
		return fmt.Errorf("unknown arch %q (resnet18, smallcnn)", arch)
	}
	runtime.LockOSThread() // libtorch's thread count is per OS thread
	defer runtime.UnlockOSThread()
	torch.SetNumThreads(threads)
	torch.ManualSeed(0)
	st, err := trainstep.New(trainstep.Config{Arch: name, EmbedDim: 128, Classes: 100, Loss: "oproxy", LR: 1e-5, Decay: 4e-4, BF16: bf16})
	if err != nil {
		return err
	}
	defer st.Close()
	x := torch.Randn([]int64{batch, 3, size, size}, torch.Float32, torch.CPUDevice).Unscope()
	defer x.Close()
	lab := make([]int64, batch)
	for i := range lab {
		lab[i] = int64(i/2) % 100
	}
	y, err := torch.FromInt64(lab, batch)
	if err != nil {
		return err
	}
	y.Unscope()
	defer y.Close()
	var tFwd, tBwd, tOpt time.Duration
	step := func() error {
		return torch.WithScope(func() error {
			_, _, t := st.Run(x, y)
			tFwd, tBwd, tOpt = tFwd+t.Forward, tBwd+t.Backward, tOpt+t.Optim
			return nil
		})
	}
	for i := 0; i < warm; i++ {
		if err := step(); err != nil {
			return err
		}
	}
	t0 := time.Now()
	for i := 0; i < steps; i++ {
		if err := step(); err != nil {
			return err
		}
	}
	el := time.Since(t0).Seconds() / float64(steps)
	n := float64(steps + warm)
	fmt.Fprintf(os.Stderr, "%s: forward+loss %.3fs backward %.3fs unscale+adam %.3fs per step (all steps)\n",
		arch, tFwd.Seconds()/n, tBwd.Seconds()/n, tOpt.Seconds()/n)
	fmt.Printf("%s %.4f\n", arch, el)
	return nil
}
