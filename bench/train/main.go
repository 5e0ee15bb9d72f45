// Command bench/train times one dmlrun training step, the same step as bench/train/step.py
// does in PyTorch, so the two can be compared side by side (bench/train/run.sh).
//
// One step = zero grads (set to undefined) + forward in training mode + ProxyAnchor loss
// (stages/train/criteria "oproxy", 100 classes) + backward of loss * 2^16 + unscale and
// finite check of every gradient + Adam step (network lr 1e-5 wd 4e-4, proxies lr 0.02).
// The input is one fixed random batch: data loading and augmentation are not timed on
// either side. Prints "<arch> <seconds per step>".
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"

	"dmlrun/stage"
	"dmlrun/stages/models"
	"dmlrun/stages/train/criteria"
	"dmlrun/torch"
	"dmlrun/torch/optim"
)

func main() {
	arch := flag.String("arch", "resnet18", "resnet18 (frozen BN, as resnet18_frozen_normalize) or smallcnn (smallcnn_normalize)")
	threads := flag.Int("threads", 1, "libtorch intra-op threads")
	size := flag.Int64("size", 64, "image side")
	batch := flag.Int64("batch", 90, "batch size (2 samples per class)")
	steps := flag.Int("steps", 20, "timed steps")
	warm := flag.Int("warmup", 3, "untimed steps first")
	flag.Parse()
	if err := run(*arch, *threads, *size, *batch, *steps, *warm); err != nil {
		fmt.Fprintln(os.Stderr, "bench/train:", err)
		os.Exit(1)
	}
}

func run(arch string, threads int, size, batch int64, steps, warm int) error {
	name := map[string]string{"resnet18": "resnet18_frozen_normalize", "smallcnn": "smallcnn_normalize"}[arch]
	if name == "" {
		return fmt.Errorf("unknown arch %q (resnet18, smallcnn)", arch)
	}
	runtime.LockOSThread() // libtorch's thread count is per OS thread
	defer runtime.UnlockOSThread()
	torch.SetNumThreads(threads)
	torch.ManualSeed(0)
	m, err := models.New(name, 128, torch.CPUDevice)
	if err != nil {
		return err
	}
	defer m.Close()
	p := stage.Params{}
	for _, f := range criteria.Variants()["oproxy"] {
		p[f.Name] = f.Default
	}
	crit, err := criteria.New("oproxy", p, 128, 100, nil)
	if err != nil {
		return err
	}
	defer criteria.Close(crit)
	_, bb := m.Params(false)
	_, hd := m.Params(true)
	net := append(append([]*torch.Tensor{}, bb...), hd...)
	groups := append([]optim.Group{{Name: "network", Params: net, LR: 1e-5, WeightDecay: 4e-4}}, crit.Groups(1e-5)...)
	var params []*torch.Tensor
	for _, g := range groups {
		params = append(params, g.Params...)
	}
	opt := optim.NewAdam(groups, 0.9, 0.999, 1e-8)
	defer opt.Close()
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
	const scale = 65536.0
	var tFwd, tBwd, tOpt time.Duration
	step := func() error {
		return torch.WithScope(func() error {
			t0 := time.Now()
			for _, q := range params {
				q.ZeroGrad()
			}
			out := m.Forward(x, true, false)
			loss := crit.Loss(criteria.Batch{Embeds: out.Embeds, Labels: y, Features: out.Features, AvgFeatures: out.AvgFeatures})
			_ = loss.Item()
			t1 := time.Now()
			loss.MulScalar(scale).Backward()
			t2 := time.Now()
			defer func() { tFwd, tBwd, tOpt = tFwd+t1.Sub(t0), tBwd+t2.Sub(t1), tOpt+time.Since(t2) }()
			finite := true
			for _, q := range params {
				if g := q.Grad(); g != nil {
					g.MulScalarInPlace(1 / scale)
					finite = finite && g.AllFinite()
				}
			}
			if finite {
				opt.Step()
			}
			_ = loss.Item()
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
