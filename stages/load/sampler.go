package load

import (
	"fmt"
	"sort"
)

// Sampler yields the batches of one epoch as lists of sample indices (positions in the
// training split). Callers re-seed the generators before each epoch (EpochSeed).
type Sampler interface {
	Len() int       // batches per epoch: floor(#samples / batch size)
	Epoch() [][]int // all batches of one epoch, drawn in order from the sampler's generators
}

// EpochSeed is the seed the original sets at the start of epoch e (0-based) of a run with
// seed s and nEpochs epochs: nEpochs*s + e (reference-method §8.5).
func EpochSeed(seed, nEpochs, epoch int64) int64 { return nEpochs*seed + epoch }

// classLists turns label -> indices into per-class lists in ascending label order, which is
// the original's `list(image_dict.keys())` order (keys inserted 0..C-1).
func classLists(byClass map[int64][]int) ([][]int, int, error) {
	keys := make([]int64, 0, len(byClass))
	n := 0
	for k, v := range byClass {
		if len(v) == 0 {
			return nil, 0, fmt.Errorf("class %d has no samples", k)
		}
		keys = append(keys, k)
		n += len(v)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	out := make([][]int, len(keys))
	for i, k := range keys {
		out[i] = byClass[k]
	}
	return out, n, nil
}

// ClassRandomSampler is the original's `class_random` sampler (reference-method §3.1):
// per batch, bs/spc draws; each draw picks a class uniformly with replacement, then spc
// of its images uniformly with replacement, all with CPython random.choice on rng.
type ClassRandomSampler struct {
	classes [][]int
	bs, spc int
	n       int
	rng     *PyRandom
}

// NewClassRandomSampler builds the sampler over labelsByClass (label -> sample indices, as
// Split.ClassIndex returns). spc must divide bs. rng is shared with the caller, who
// re-seeds it each epoch with EpochSeed like the original's global random module.
func NewClassRandomSampler(labelsByClass map[int64][]int, bs, spc int, rng *PyRandom) (*ClassRandomSampler, error) {
	if bs <= 0 || spc <= 0 || bs%spc != 0 {
		return nil, fmt.Errorf("class_random sampler: samples_per_class %d must divide batch size %d", spc, bs)
	}
	cl, n, err := classLists(labelsByClass)
	if err != nil {
		return nil, fmt.Errorf("class_random sampler: %w", err)
	}
	if len(cl) == 0 || n < bs {
		return nil, fmt.Errorf("class_random sampler: %d samples in %d classes give no batch of %d", n, len(cl), bs)
	}
	return &ClassRandomSampler{classes: cl, bs: bs, spc: spc, n: n, rng: rng}, nil
}

// Len is floor(#samples / bs).
func (s *ClassRandomSampler) Len() int { return s.n / s.bs }

// Next draws one batch.
func (s *ClassRandomSampler) Next() []int {
	out := make([]int, 0, s.bs)
	for d := 0; d < s.bs/s.spc; d++ {
		c := s.classes[s.rng.Choice(len(s.classes))]
		for k := 0; k < s.spc; k++ {
			out = append(out, c[s.rng.Choice(len(c))])
		}
	}
	return out
}

// Epoch draws Len batches.
func (s *ClassRandomSampler) Epoch() [][]int {
	out := make([][]int, s.Len())
	for i := range out {
		out[i] = s.Next()
	}
	return out
}

// RandomSampler is the original's `random` sampler (reference-method §3.2): bs-1 samples,
// each a uniform class (CPython random.choice) then a uniform image of it (NumPy legacy
// np.random.choice), then one image of the class of a randomly chosen drawn sample
// (random.choice twice), which guarantees a positive pair.
type RandomSampler struct {
	classes [][]int
	labelOf map[int]int // sample index -> position of its class in classes
	bs, n   int
	rng     *PyRandom
	np      *NumpyRandom
}

// NewRandomSampler builds the sampler; rng and np are shared with the caller, who re-seeds
// both each epoch (the original seeds Python random and NumPy with the same value).
func NewRandomSampler(labelsByClass map[int64][]int, bs int, rng *PyRandom, np *NumpyRandom) (*RandomSampler, error) {
	if bs < 2 {
		return nil, fmt.Errorf("random sampler: batch size %d < 2", bs)
	}
	cl, n, err := classLists(labelsByClass)
	if err != nil {
		return nil, fmt.Errorf("random sampler: %w", err)
	}
	if n < bs {
		return nil, fmt.Errorf("random sampler: %d samples give no batch of %d", n, bs)
	}
	lab := make(map[int]int, n)
	for c, l := range cl {
		for _, i := range l {
			lab[i] = c
		}
	}
	return &RandomSampler{classes: cl, labelOf: lab, bs: bs, n: n, rng: rng, np: np}, nil
}

// Len is floor(#samples / bs).
func (s *RandomSampler) Len() int { return s.n / s.bs }

// Next draws one batch.
func (s *RandomSampler) Next() []int {
	out := make([]int, 0, s.bs)
	for k := 0; k < s.bs-1; k++ {
		c := s.classes[s.rng.Choice(len(s.classes))]
		out = append(out, c[s.np.Choice(len(c))])
	}
	anchor := out[s.rng.Choice(len(out))]
	c := s.classes[s.labelOf[anchor]]
	return append(out, c[s.rng.Choice(len(c))])
}

// Epoch draws Len batches.
func (s *RandomSampler) Epoch() [][]int {
	out := make([][]int, s.Len())
	for i := range out {
		out[i] = s.Next()
	}
	return out
}
