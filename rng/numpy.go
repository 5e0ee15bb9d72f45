package rng

import (
	"fmt"
	"math/bits"
)

// NumpyRandom reproduces NumPy's legacy RandomState (the np.random.* global functions) for
// the calls dmlrun replays: seed, randint / choice(n), choice(n, p=p), permutation and
// random_sample. Seeded the same way, it returns the same numbers as NumPy's legacy stream,
// which NumPy keeps frozen across releases.
// Not safe for concurrent use.
type NumpyRandom struct{ mt MT19937 }

// NewNumpyRandom returns a generator in the state of np.random.seed(seed).
func NewNumpyRandom(seed uint32) *NumpyRandom {
	r := &NumpyRandom{}
	r.Seed(seed)
	return r
}

// Seed re-seeds like np.random.seed(seed): legacy seeding of an integer in [0, 2^32) is
// init_genrand(seed), not init_by_array.
func (r *NumpyRandom) Seed(seed uint32) { r.mt.SeedGenrand(seed) }

// Uint32 returns the next raw 32-bit output.
func (r *NumpyRandom) Uint32() uint32 { return r.mt.Uint32() }

// RandomSample is np.random.random_sample(): a 53-bit double in [0, 1) from two outputs.
func (r *NumpyRandom) RandomSample() float64 { return r.mt.float53() }

// Interval draws uniformly from [0, max] the way NumPy's legacy bounded integers and
// random_interval do for max < 2^32: mask = smallest 2^b-1 >= max, repeat next&mask until
// the value is <= max. max == 0 consumes nothing.
func (r *NumpyRandom) Interval(max uint32) uint32 {
	if max == 0 {
		return 0
	}
	mask := uint32(0xffffffff) >> bits.LeadingZeros32(max)
	for {
		if v := r.mt.Uint32() & mask; v <= max {
			return v
		}
	}
}

// Choice is np.random.choice(n) (and np.random.choice(arr) as an index into arr), i.e. the
// legacy randint(0, n): masked rejection sampling on 32-bit outputs. n == 1 consumes
// nothing, as in NumPy. It panics for n < 1 or n > 2^32 (NumPy raises; callers check).
func (r *NumpyRandom) Choice(n int) int {
	if n < 1 || uint64(n) > 1<<32 {
		panic(fmt.Sprintf("rng: NumpyRandom.Choice(%d) out of range (programmer error)", n))
	}
	return int(r.Interval(uint32(n - 1)))
}

// ChoiceP is np.random.choice(len(p), p=p) for probabilities already converted to float64
// (NumPy converts a float32 array to float64 exactly): cdf = cumsum(p), cdf /= cdf[-1],
// u = random_sample(), index = searchsorted(cdf, u, side='right').
// It returns -1 without consuming the generator when p has no positive finite mass (NumPy
// would raise; callers treat this as "no candidate").
func (r *NumpyRandom) ChoiceP(p []float64) int {
	cdf := make([]float64, len(p))
	s := 0.0
	for i, v := range p {
		s += v
		cdf[i] = s
	}
	if len(p) == 0 || !(s > 0) || s != s || s > 1e308 {
		return -1
	}
	for i := range cdf {
		cdf[i] /= s
	}
	u := r.RandomSample()
	// side='right': the first index whose cdf is > u.
	lo, hi := 0, len(cdf)
	for lo < hi {
		mid := (lo + hi) / 2
		if cdf[mid] <= u {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo >= len(cdf) { // u < 1 = cdf[-1] always; guard against rounding anyway
		lo = len(cdf) - 1
	}
	return lo
}

// Permutation is np.random.permutation(n): the legacy shuffle of arange(n), a Fisher-Yates
// from the last position down with each partner drawn by Interval. n must be below 2^32.
func (r *NumpyRandom) Permutation(n int) []int {
	a := make([]int, n)
	for i := range a {
		a[i] = i
	}
	for i := n - 1; i >= 1; i-- {
		j := int(r.Interval(uint32(i)))
		a[i], a[j] = a[j], a[i]
	}
	return a
}
