package train

import (
	"fmt"

	"dmlrun/stages/load"
)

// trainData is the training split plus the generators the original re-seeds every epoch
// (reference §8.5): Python random drives class_random batch composition, NumPy the random
// sampler's image picks. Augmentation has its own per-sample streams (load.Augmenter), so a
// batch can be assembled ahead of its step.
type trainData struct {
	prep    *load.Prepared // closed by close
	split   *load.Split
	sampler load.Sampler
	py      *load.PyRandom
	np      *load.NumpyRandom
	aug     string
	seed    int64 // run seed: augmentation streams derive from (seed, epoch, batch, position)

	bufs [2]hostBatch // the training batches' buffers, reused by every epoch (prefetch.go)
	eval Embedder     // evaluate's buffers, reused by every split and epoch of this training
}

func openTrainData(dir string, cfg *Config) (*trainData, error) {
	c := &cfg.Schedule
	p, err := load.Open(dir)
	if err != nil {
		return nil, err
	}
	s, err := p.Split("train")
	if err != nil {
		p.Close()
		return nil, err
	}
	aug := c.Augmentation
	switch aug {
	case "base", "red", "adv":
	case "big":
		// The original's "big" is "base" with crop 256 for training and evaluation alike
		// (reference §2.6). Here the crop is the dataset's protocol (its crop parameter),
		// which embed uses too, so "big" trains exactly like "base" at that crop: with
		// crop = 256 in the dataset block (and base >= 256) it is the original's "big";
		// otherwise newTrainer logs a warning.
		aug = "base"
	default:
		p.Close()
		return nil, fmt.Errorf("augmentation %q is not implemented by stages/load (have base, big, adv, red)", c.Augmentation)
	}
	d := &trainData{prep: p, split: s, py: load.NewPyRandom(cfg.Seed), np: load.NewNumpyRandom(uint32(cfg.Seed)), aug: aug, seed: cfg.Seed}
	switch c.Sampler {
	case "class_random":
		d.sampler, err = load.NewClassRandomSampler(s.ClassIndex(), c.BatchSize, c.SamplesPerClass, d.py)
	case "random":
		d.sampler, err = load.NewRandomSampler(s.ClassIndex(), c.BatchSize, d.py, d.np)
	default:
		err = fmt.Errorf("unknown sampler %q (have class_random, random)", c.Sampler)
	}
	if err != nil {
		p.Close()
		return nil, err
	}
	return d, nil
}

// epoch re-seeds the data generators with the epoch seed and draws the epoch's batches.
func (d *trainData) epoch(seed int64) [][]int {
	d.py.Seed(seed)
	d.np.Seed(uint32(seed))
	return d.sampler.Epoch()
}

// fill assembles batch b of epoch (sample indices idx) into hb's buffers, the augmented
// images on up to workers goroutines (0: one per CPU), and their labels. It only reads
// d.split and the fields set by openTrainData, so it may run on another goroutine while
// training steps (prefetch.go).
func (d *trainData) fill(hb *hostBatch, epoch, b int, idx []int, workers int) {
	hb.data, hb.shape = d.split.TrainBatchInto(hb.data, idx, load.Augmenter{Seed: d.seed, Epoch: epoch, Batch: b, Mode: d.aug}, workers)
	labels := d.split.Labels()
	hb.labels = hb.labels[:0]
	for _, j := range idx {
		hb.labels = append(hb.labels, labels[j])
	}
}
