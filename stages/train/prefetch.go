package train

import (
	"fmt"
	"runtime"

	"dmlrun/torch"
)

// prefetchMode says whether runEpoch assembles each next batch on a goroutine while the
// current step runs. The results are the same bytes either way (TestPrefetchSameCheckpoint):
// it decides speed only.
type prefetchMode int

const (
	prefetchAuto prefetchMode = iota // per node: prefetchPlan
	prefetchOn                       // always, on the CPUs prefetchPlan would use (tests, benchmarks)
	prefetchOff                      // never: each batch assembled right before its step
)

// prefetch is the mode of every node in this process; only tests and benchmarks change it.
var prefetch = prefetchAuto

// prefetchPlan says whether this node's epochs prefetch and on how many goroutines a
// prefetched batch is assembled (0: one per CPU). Automatically it prefetches only when
// the step leaves CPUs free: on a CUDA device, where the CPUs wait for the GPU, and on
// the CPU when the node's libtorch threads are fewer than the CPUs, on the ones left.
// With libtorch on every CPU (the CPU default) it does not: assembling a batch beside
// OpenMP threads that fill every core preempts them, and an OpenMP region waits for its
// slowest thread; on the 2-core machine of bench/datapath/README.md that made epochs
// slower, where one libtorch thread beside a prefetching goroutine made them faster.
// The CPUs are the node's (stage.Context.CPUs): under apply -j N its share of the
// machine, equal to its threads, so it does not prefetch on the other nodes' CPUs.
func (t *trainer) prefetchPlan() (on bool, workers int) {
	cpus := t.ctx.CPUs
	if cpus <= 0 {
		cpus = runtime.NumCPU()
	}
	spare := cpus - Threads(t.ctx)
	if !t.dev.IsCUDA() && spare > 0 {
		workers = spare
	}
	switch prefetch {
	case prefetchOn:
		return true, workers
	case prefetchOff:
		return false, 0
	}
	return t.dev.IsCUDA() || spare > 0, workers
}

// prefetchHook is a test hook that sees every prefetcher runEpoch starts, so a test can
// check that each one's goroutine has returned when the epoch is over.
var prefetchHook func(*prefetcher)

// hostBatch is one training batch on the Go side: its images (NCHW float32) and labels.
// The slices are reused from batch to batch.
type hostBatch struct {
	it     int // the batch's index in its epoch
	data   []float32
	shape  [4]int64
	labels []int64
	err    error // the assembly failed (a panic in stages/load, i.e. a bug); next reports it
}

// tensors copies hb into new tensors on dev, in the caller's torch scope. hb's buffers may
// be reused as soon as it returns: torch.FromFloat32 and FromInt64 copy.
func (hb *hostBatch) tensors(dev torch.Device) (x, y *torch.Tensor, err error) {
	x, err = torch.FromFloat32(hb.data, hb.shape[:]...)
	if err != nil {
		return nil, nil, err
	}
	y, err = torch.FromInt64(hb.labels, int64(len(hb.labels)))
	if err != nil {
		return nil, nil, err
	}
	if dev.IsCUDA() {
		x, y = x.To(dev), y.To(dev)
	}
	return x, y, nil
}

// epochBatches hands runEpoch the batches of one epoch as tensors, in order. When
// prefetching it runs a prefetcher on the trainer's two batch buffers; otherwise it
// assembles each batch when asked into the first, on every CPU (the step is not running
// then). Tensors are always made on the caller's goroutine: torch scopes are
// process-wide and a node's torch work runs on its pinned OS thread (torch.Pinned), so
// only the Go-side buffers are prepared ahead.
type epochBatches struct {
	d       *trainData
	epoch   int
	batches [][]int
	pf      *prefetcher // nil: assemble inline into d.bufs[0]
}

// batches returns the source of epoch's batches (drawn by trainData.epoch), prefetching
// as prefetchPlan says. The caller must call close when the epoch ends, early or not.
func (t *trainer) batches(epoch int, batches [][]int) *epochBatches {
	d := t.data
	eb := &epochBatches{d: d, epoch: epoch, batches: batches}
	if on, workers := t.prefetchPlan(); on && len(batches) > 0 {
		eb.pf = startPrefetch(len(batches), [2]*hostBatch{&d.bufs[0], &d.bufs[1]}, func(hb *hostBatch, it int) {
			d.fill(hb, epoch, it, batches[it], workers)
		})
		if prefetchHook != nil {
			prefetchHook(eb.pf)
		}
	}
	return eb
}

// tensors returns batch it's images and labels as tensors on dev (in the caller's torch
// scope). Batches must be asked for in order 0, 1, 2, ...
func (eb *epochBatches) tensors(it int, dev torch.Device) (x, y *torch.Tensor, err error) {
	if eb.pf == nil {
		hb := &eb.d.bufs[0]
		if err := assemble(hb, it, func(hb *hostBatch, it int) { eb.d.fill(hb, eb.epoch, it, eb.batches[it], 0) }); err != nil {
			return nil, nil, err
		}
		return hb.tensors(dev)
	}
	hb, err := eb.pf.next(it)
	if err != nil {
		return nil, nil, err
	}
	defer eb.pf.release(hb)
	return hb.tensors(dev)
}

// close stops the prefetch goroutine, if any, and returns once it has returned; it is
// idempotent.
func (eb *epochBatches) close() {
	if eb.pf != nil {
		eb.pf.close()
	}
}

// prefetcher assembles batches 0..n-1 in order on one goroutine, one batch ahead of the
// consumer, into two hostBatch buffers that alternate (double buffering): while the
// consumer turns one into tensors and runs its step, the goroutine fills the other. The
// handover channel is unbuffered, so the goroutine never runs more than one batch ahead
// and never holds more than the two buffers.
//
// fill must be safe to run concurrently with whatever the consumer does meanwhile; for
// training it only reads the opened split (load.Split.TrainBatchInto) and the epoch's
// batch list, which nothing changes during the epoch. The consumer calls next(0),
// release, next(1), release, ... and close at the end, also after an error or an early
// return: close waits for the goroutine, so none outlives the epoch (nor the dataset's
// mappings, closed later by the trainer).
type prefetcher struct {
	n     int
	ready chan *hostBatch // the next assembled batch; closed when the goroutine returns
	free  chan *hostBatch // buffers the consumer is done with
	stop  chan struct{}   // closed by close
	done  chan struct{}   // closed when the goroutine has returned
}

// startPrefetch starts assembling batches 0..n-1 with fill into bufs, which belong to the
// prefetcher until its close returns (the trainer keeps them from epoch to epoch).
func startPrefetch(n int, bufs [2]*hostBatch, fill func(hb *hostBatch, it int)) *prefetcher {
	p := &prefetcher{n: n, ready: make(chan *hostBatch), free: make(chan *hostBatch, 2),
		stop: make(chan struct{}), done: make(chan struct{})}
	p.free <- bufs[0]
	p.free <- bufs[1]
	go p.run(fill)
	return p
}

func (p *prefetcher) run(fill func(hb *hostBatch, it int)) {
	defer close(p.done)
	defer close(p.ready)
	for it := 0; it < p.n; it++ {
		var hb *hostBatch
		select {
		case hb = <-p.free:
		case <-p.stop:
			return
		}
		hb.err = assemble(hb, it, fill)
		select {
		case p.ready <- hb:
		case <-p.stop:
			return
		}
		if hb.err != nil {
			return // the consumer stops at this batch
		}
	}
}

// assemble runs fill for batch it into hb, turning a panic into an error: on the prefetch
// goroutine a panic would end the process, where torch.Catch turns one on the training
// goroutine into the node's error.
func assemble(hb *hostBatch, it int, fill func(hb *hostBatch, it int)) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("assemble batch %d: %v", it, r)
		}
	}()
	hb.it = it
	fill(hb, it)
	return nil
}

// next waits for batch it, which must be the next one. The caller hands the batch back
// with release once it no longer reads it.
func (p *prefetcher) next(it int) (*hostBatch, error) {
	hb, ok := <-p.ready
	switch {
	case !ok:
		return nil, fmt.Errorf("prefetch: batch %d asked for, but the epoch's %d batches are done or stopped (caller bug)", it, p.n)
	case hb.it != it:
		return nil, fmt.Errorf("prefetch: batch %d asked for, batch %d came (caller bug)", it, hb.it)
	case hb.err != nil:
		return nil, hb.err
	}
	return hb, nil
}

// release hands a buffer from next back for the batch after next. It never blocks: only
// the two buffers circulate and free holds both.
func (p *prefetcher) release(hb *hostBatch) { p.free <- hb }

// close stops the goroutine and waits until it has returned; idempotent. A batch being
// assembled is finished first (load's batch functions are not interruptible; that is one
// batch's assembly, milliseconds).
func (p *prefetcher) close() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}
