// Command nirbench times one NIR loss forward+backward (stages/nir) at the original's
// default flow (5 blocks, depth 8, width 128, dense conditioning), B = 90, C = 100, for the
// embedding dimensions given, and prints one line per dimension in the format nir_torch.py
// prints, so bench/nir/run.sh can put the two side by side.
//
// Both sides seed the CPU generator with 0 before building the criterion and with 1 before
// drawing the embeddings; the init parity of stages/nir makes their parameters and inputs
// identical, so the printed loss values must agree too (a check that both time the same
// computation).
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"dmlrun/stages/nir"
	"dmlrun/torch"
)

func main() {
	dims := flag.String("dims", "128,512", "comma-separated embedding dimensions")
	iters := flag.Int("iters", 30, "timed iterations per dimension")
	warmup := flag.Int("warmup", 5, "untimed iterations first")
	threads := flag.Int("threads", runtime.NumCPU(), "libtorch intra-op threads")
	flag.Parse()
	if err := run(*dims, *iters, *warmup, *threads); err != nil {
		fmt.Fprintln(os.Stderr, "nirbench:", err)
		os.Exit(1)
	}
}

func run(dims string, iters, warmup, threads int) error {
	torch.SetNumThreads(threads)
	for _, ds := range strings.Split(dims, ",") {
		d, err := strconv.Atoi(strings.TrimSpace(ds))
		if err != nil {
			return fmt.Errorf("dimension %q: %w", ds, err)
		}
		err = torch.WithScope(func() error {
			times, loss, err := timeLoss(d, iters, warmup)
			if err != nil {
				return err
			}
			sort.Float64s(times)
			var sum float64
			for _, t := range times {
				sum += t
			}
			fmt.Printf("impl=go-libtorch D=%d B=90 C=100 threads=%d iters=%d median_ms=%.3f mean_ms=%.3f min_ms=%.3f loss=%.9g\n",
				d, torch.NumThreads(), iters, times[len(times)/2], sum/float64(len(times)), times[0], loss)
			return nil
		})
		if err != nil {
			return fmt.Errorf("D=%d: %w", d, err)
		}
	}
	return nil
}

// setup builds the criterion and inputs exactly as nir_torch.py does.
func setup(d int) (*nir.Criterion, *torch.Tensor, *torch.Tensor, error) {
	const b, c = 90, 100
	torch.ManualSeed(0)
	crit, err := nir.New(nir.DefaultConfig(d, c))
	if err != nil {
		return nil, nil, nil, err
	}
	torch.ManualSeed(1)
	emb := torch.Randn([]int64{b, int64(d)}, torch.Float32, torch.CPUDevice).Normalize(2, -1, 1e-12).SetRequiresGrad(true)
	lab := make([]int64, b)
	for i := range lab {
		lab[i] = int64(i / 2) // 45 classes x 2 samples, the class_random sampler's shape
	}
	labels, err := torch.FromInt64(lab, b)
	if err != nil {
		return nil, nil, nil, err
	}
	return crit, emb, labels, nil
}

// step is what one timed iteration does: loss, backward, then drop the gradients (the
// training loop's zero_grad(set_to_none)). It returns the loss value.
func step(crit *nir.Criterion, emb, labels *torch.Tensor) float64 {
	s := torch.NewScope()
	defer s.Close()
	loss, _ := crit.Loss(emb, labels)
	loss.Backward()
	v := loss.Item()
	_, ps := crit.Named()
	for _, p := range ps {
		p.ZeroGrad()
	}
	emb.ZeroGrad()
	return v
}

func timeLoss(d, iters, warmup int) ([]float64, float64, error) {
	crit, emb, labels, err := setup(d)
	if err != nil {
		return nil, 0, err
	}
	defer crit.Close()
	var loss float64
	err = torch.Catch(func() error {
		for i := 0; i < warmup; i++ {
			loss = step(crit, emb, labels)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	times := make([]float64, 0, iters)
	err = torch.Catch(func() error {
		for i := 0; i < iters; i++ {
			t0 := time.Now()
			loss = step(crit, emb, labels)
			times = append(times, float64(time.Since(t0).Microseconds())/1000)
		}
		return nil
	})
	return times, loss, err
}
