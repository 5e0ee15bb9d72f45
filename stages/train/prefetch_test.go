package train

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"dmlrun/stage"
	"dmlrun/stages/train/traintest"
	"dmlrun/torch"
)

// fillIndex is a prefetch fill that writes the batch index into every value.
func fillIndex(hb *hostBatch, it int) {
	hb.data = append(hb.data[:0], float32(it), float32(it), float32(it))
	hb.shape = [4]int64{1, 3, 1, 1}
	hb.labels = append(hb.labels[:0], int64(it))
}

// newBufs is a fresh pair of batch buffers.
func newBufs() [2]*hostBatch { return [2]*hostBatch{{}, {}} }

// goroutineDone says whether p's goroutine has returned, without waiting.
func goroutineDone(p *prefetcher) bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// The prefetcher hands over batches 0..n-1 in order, in two alternating buffers, and
// ends its goroutine after the last one; asking for more is an error, not a hang.
func TestPrefetcherOrderAndBuffers(t *testing.T) {
	const n = 7
	p := startPrefetch(n, newBufs(), fillIndex)
	defer p.close()
	bufs := map[*hostBatch]bool{}
	for it := 0; it < n; it++ {
		hb, err := p.next(it)
		if err != nil {
			t.Fatal(err)
		}
		if hb.it != it || !slices.Equal(hb.data, []float32{float32(it), float32(it), float32(it)}) || !slices.Equal(hb.labels, []int64{int64(it)}) {
			t.Fatalf("batch %d: got batch %d with %v %v", it, hb.it, hb.data, hb.labels)
		}
		bufs[hb] = true
		p.release(hb)
	}
	if len(bufs) != 2 {
		t.Errorf("%d distinct buffers circulated, want 2 (double buffering)", len(bufs))
	}
	if _, err := p.next(n); err == nil || !strings.Contains(err.Error(), "caller bug") {
		t.Fatalf("batch past the end: %v", err)
	}
	// next saw the handover channel closed, which the goroutine does on its way out.
	p.close()
	if !goroutineDone(p) {
		t.Fatal("goroutine still running after the last batch and close")
	}
}

// Stopping early, out-of-order requests and a panicking fill all end with the goroutine
// returned once close returns.
func TestPrefetcherStops(t *testing.T) {
	t.Run("close mid-epoch", func(t *testing.T) {
		p := startPrefetch(5, newBufs(), fillIndex)
		hb, err := p.next(0)
		if err != nil {
			t.Fatal(err)
		}
		p.release(hb)
		// The goroutine now holds batch 1 (or is filling it) and would block on the
		// handover forever without close.
		p.close()
		p.close() // idempotent
		if !goroutineDone(p) {
			t.Fatal("goroutine still running after close")
		}
	})
	t.Run("out of order", func(t *testing.T) {
		p := startPrefetch(3, newBufs(), fillIndex)
		_, err := p.next(1)
		p.close()
		if err == nil || !strings.Contains(err.Error(), "batch 0 came") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("fill panics", func(t *testing.T) {
		p := startPrefetch(4, newBufs(), func(hb *hostBatch, it int) {
			if it == 2 {
				panic("index out of range")
			}
			fillIndex(hb, it)
		})
		for it := 0; it < 2; it++ {
			hb, err := p.next(it)
			if err != nil {
				t.Fatal(err)
			}
			p.release(hb)
		}
		_, err := p.next(2)
		p.close()
		if err == nil || !strings.Contains(err.Error(), "assemble batch 2: index out of range") {
			t.Fatalf("got %v", err)
		}
		if !goroutineDone(p) {
			t.Fatal("goroutine still running")
		}
	})
}

// evalSetup is a 3-epoch run on a dataset with val and test splits, evaluated every epoch
// (the Embedder's buffers serve both splits and every epoch).
func evalSetup(t *testing.T) *setup {
	s := newSetup(t, 6, 8)
	traintest.WriteTinyDatasetSplits(t, s.dataDir, 6, 8, "train", "test", "val")
	s.params["eval_every"] = int64(1)
	return s
}

// TestPrefetchSameCheckpoint: a training whose batches are prepared on the prefetch
// goroutine writes the same checkpoint and event file bytes, and the same log but for the
// clock, as one that assembles each batch right before its step.
func TestPrefetchSameCheckpoint(t *testing.T) {
	s := evalSetup(t)
	outs := map[bool]string{}
	defer func() { prefetch = prefetchAuto }()
	for _, on := range []bool{false, true} {
		prefetch = prefetchOff
		if on {
			prefetch = prefetchOn
		}
		outs[on] = t.TempDir()
		if err := runTrain(s.ctx(t, outs[on], false, nil)); err != nil {
			t.Fatalf("prefetch %v: %v", on, err)
		}
	}
	for _, f := range []string{CheckpointFile, EventsFile} {
		a, _ := os.ReadFile(filepath.Join(outs[false], f))
		b, _ := os.ReadFile(filepath.Join(outs[true], f))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Fatalf("%s with prefetch differs from without (%d vs %d bytes)", f, len(b), len(a))
		}
	}
	ra, rb := readLog(t, outs[false]), readLog(t, outs[true])
	if len(ra) != 4 || len(rb) != len(ra) || !slices.Contains(ra[0], "val_e_recall@1") {
		t.Fatalf("logs: %v / %v", ra, rb)
	}
	for i := 1; i < len(ra); i++ {
		for j, c := range ra[0] {
			if c != "seconds" && c != "eval_seconds" && ra[i][j] != rb[i][j] {
				t.Fatalf("epoch %d %s: %s without prefetch, %s with", i-1, c, ra[i][j], rb[i][j])
			}
		}
	}
}

// TestPrefetchGoroutineEnds: however an epoch ends (finished, stopped by an error in a
// step, cancelled), the prefetch goroutine it started has returned when training returns.
// Deterministic: a goroutine that was not stopped stays blocked handing over its next
// batch, so its done channel is still open.
func TestPrefetchGoroutineEnds(t *testing.T) {
	defer func() { lossHook, prefetchHook, prefetch = nil, nil, prefetchAuto }()
	prefetch = prefetchOn // whatever the CPU count
	cases := []struct {
		name    string
		epochs  int // prefetchers started
		hook    func(cancel func()) func(epoch, step int, loss *torch.Tensor) *torch.Tensor
		wantErr func(error) bool
	}{
		{"finished", 3, nil, func(err error) bool { return err == nil }},
		{"error mid-epoch", 2, func(func()) func(int, int, *torch.Tensor) *torch.Tensor {
			return func(epoch, step int, loss *torch.Tensor) *torch.Tensor {
				if epoch == 1 && step == 0 {
					return loss.MulScalar(math.NaN())
				}
				return loss
			}
		}, func(err error) bool { return errors.Is(err, ErrNonFinite) }},
		{"cancelled mid-epoch", 1, func(cancel func()) func(int, int, *torch.Tensor) *torch.Tensor {
			return func(epoch, step int, loss *torch.Tensor) *torch.Tensor {
				if epoch == 0 && step == 0 {
					cancel() // runEpoch sees it before step 1
				}
				return loss
			}
		}, func(err error) bool { return errors.Is(err, context.Canceled) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSetup(t, 6, 8)
			ctx := s.ctx(t, t.TempDir(), false, nil)
			cctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ctx.Context = cctx
			lossHook = nil
			if c.hook != nil {
				lossHook = c.hook(cancel)
			}
			var started []*prefetcher
			prefetchHook = func(p *prefetcher) { started = append(started, p) }
			err := runTrain(ctx)
			if !c.wantErr(err) {
				t.Fatalf("runTrain: %v", err)
			}
			if len(started) != c.epochs {
				t.Fatalf("%d prefetchers started, want %d (one per epoch run)", len(started), c.epochs)
			}
			for i, p := range started {
				if !goroutineDone(p) {
					t.Errorf("epoch %d's prefetch goroutine is still running", i)
				}
			}
		})
	}
}

// TestPrefetchPlan: automatically, a node prefetches when its step leaves CPUs free (a
// CUDA device, or fewer libtorch threads than CPUs, the rest assembling), not when
// libtorch has every CPU; the forced modes override.
func TestPrefetchPlan(t *testing.T) {
	defer func() { prefetch = prefetchAuto }()
	ncpu := runtime.NumCPU()
	cuda := torch.Device{Kind: torch.CUDA}
	cases := []struct {
		name        string
		mode        prefetchMode
		dev         torch.Device
		threads     int // the node's ctx.Threads (0: every CPU)
		on          bool
		wantWorkers int
	}{
		{"cpu, every CPU by default", prefetchAuto, torch.CPUDevice, 0, false, 0},
		{"cpu, every CPU", prefetchAuto, torch.CPUDevice, ncpu, false, 0},
		{"cpu, more threads than CPUs", prefetchAuto, torch.CPUDevice, ncpu + 1, false, 0},
		{"cpu, one CPU left", prefetchAuto, torch.CPUDevice, ncpu - 1, ncpu > 1, min(1, ncpu-1)}, // (one CPU: threads 0, every CPU)
		{"cuda", prefetchAuto, cuda, 0, true, 0},
		{"forced on", prefetchOn, torch.CPUDevice, 0, true, 0},
		{"forced on, one CPU left", prefetchOn, torch.CPUDevice, ncpu - 1, true, min(1, ncpu-1)},
		{"forced off", prefetchOff, cuda, 1, false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			prefetch = c.mode
			tr := &trainer{ctx: &stage.Context{Threads: c.threads}, dev: c.dev}
			on, workers := tr.prefetchPlan()
			if !c.on {
				c.wantWorkers = 0
			}
			if on != c.on || (on && workers != c.wantWorkers) {
				t.Fatalf("prefetch %v on %d goroutines, want %v on %d (%d CPUs)", on, workers, c.on, c.wantWorkers, ncpu)
			}
		})
	}
}

// TestPrefetchPlanNodeShare: under apply -j N a node's CPUs are its share of the machine
// (stage.Context.CPUs); with its threads filling that share it assembles batches inline
// instead of on the other nodes' CPUs, and with CPUs beside its threads it uses those.
func TestPrefetchPlanNodeShare(t *testing.T) {
	prefetch = prefetchAuto
	for _, c := range []struct {
		threads, cpus int
		on            bool
		workers       int
	}{{1, 1, false, 0}, {2, 2, false, 0}, {1, 3, true, 2}} {
		tr := &trainer{ctx: &stage.Context{Threads: c.threads, CPUs: c.cpus}, dev: torch.CPUDevice}
		if on, workers := tr.prefetchPlan(); on != c.on || workers != c.workers {
			t.Errorf("threads %d of %d CPUs: prefetch %v on %d goroutines, want %v on %d", c.threads, c.cpus, on, workers, c.on, c.workers)
		}
	}
}
