package train

import (
	"fmt"

	"dmlrun/stages/load"
	"dmlrun/torch"
)

// trainData is the training split plus the generators the original re-seeds every epoch
// (reference §8.5): Python random drives class_random batch composition, NumPy the random
// sampler's image picks, the torch CPU generator (seeded by the caller) augmentation.
type trainData struct {
	prep    *load.Prepared // closed by close
	split   *load.Split
	sampler load.Sampler
	py      *load.PyRandom
	np      *load.NumpyRandom
	aug     string
	seed    int64 // run seed: augmentation streams derive from (seed, epoch, batch, position)

	eval Embedder // evaluate's buffers, reused by every split and epoch of this training
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

// batch returns augmented images (NCHW float32 on dev) and labels for batch b of epoch.
func (d *trainData) batch(epoch, b int, idx []int, dev torch.Device) (x, y *torch.Tensor, err error) {
	data, shape := d.split.TrainBatch(idx, load.Augmenter{Seed: d.seed, Epoch: epoch, Batch: b, Mode: d.aug})
	x, err = torch.FromFloat32(data, shape[:]...)
	if err != nil {
		return nil, nil, err
	}
	labels := d.split.Labels()
	lab := make([]int64, len(idx))
	for i, j := range idx {
		lab[i] = labels[j]
	}
	y, err = torch.FromInt64(lab, int64(len(lab)))
	if err != nil {
		return nil, nil, err
	}
	if dev.IsCUDA() {
		x, y = x.To(dev), y.To(dev)
	}
	return x, y, nil
}
