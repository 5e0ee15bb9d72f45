package miners

import (
	"fmt"
	"math/bits"
)

// mt19937 is the Mersenne Twister both NumPy's legacy RandomState and CPython's random
// module run; they differ only in seeding (init_genrand vs init_by_array) and in how they
// turn 32-bit outputs into numbers.
type mt19937 struct {
	mt  [624]uint32
	idx int
}

func (m *mt19937) initGenrand(s uint32) {
	m.mt[0] = s
	for i := 1; i < 624; i++ {
		m.mt[i] = 1812433253*(m.mt[i-1]^(m.mt[i-1]>>30)) + uint32(i)
	}
	m.idx = 624
}

func (m *mt19937) next() uint32 {
	if m.idx >= 624 {
		const upper, lower = 0x80000000, 0x7fffffff
		for i := 0; i < 624; i++ {
			y := m.mt[i]&upper | m.mt[(i+1)%624]&lower
			v := m.mt[(i+397)%624] ^ (y >> 1)
			if y&1 != 0 {
				v ^= 0x9908b0df
			}
			m.mt[i] = v
		}
		m.idx = 0
	}
	y := m.mt[m.idx]
	m.idx++
	y ^= y >> 11
	y ^= (y << 7) & 0x9d2c5680
	y ^= (y << 15) & 0xefc60000
	y ^= y >> 18
	return y
}

// NumpyRandom reproduces NumPy's legacy global generator (np.random.seed / np.random.choice
// / np.random.random_sample) bit for bit, which is where the original's batchminers draw
// from (reference-method §7, §8.5).
//
// Seeding: the original calls np.random.seed(s) at the start with s = seed and at the start
// of every epoch with s = n_epochs*seed + epoch (§8.5); in the main process nothing but the
// batchminer consumes NumPy's global stream, so a train loop that calls Seed the same way
// and hands the same *NumpyRandom to the miner reproduces the original's triplets on CPU.
// Not safe for concurrent use.
type NumpyRandom struct{ mt mt19937 }

// NewNumpyRandom returns a generator in the state of np.random.seed(seed).
func NewNumpyRandom(seed uint32) *NumpyRandom {
	r := &NumpyRandom{}
	r.Seed(seed)
	return r
}

// Seed re-seeds like np.random.seed(seed): legacy seeding of an integer in [0, 2^32) is
// init_genrand(seed).
func (r *NumpyRandom) Seed(seed uint32) { r.mt.initGenrand(seed) }

// Uint32 returns the next raw 32-bit output.
func (r *NumpyRandom) Uint32() uint32 { return r.mt.next() }

// RandomSample is np.random.random_sample(): a 53-bit double in [0, 1) from two outputs.
func (r *NumpyRandom) RandomSample() float64 {
	a := r.mt.next() >> 5
	b := r.mt.next() >> 6
	return (float64(a)*67108864.0 + float64(b)) / 9007199254740992.0
}

// Choice is np.random.choice(n) (and np.random.choice(arr) as an index into arr), i.e. the
// legacy randint(0, n): masked rejection sampling on 32-bit outputs. n == 1 consumes
// nothing, as in NumPy. It panics for n < 1 or n > 2^32 (NumPy raises; callers check).
func (r *NumpyRandom) Choice(n int) int {
	if n < 1 || uint64(n) > 1<<32 {
		panic(fmt.Sprintf("miners: NumpyRandom.Choice(%d) out of range (programmer error)", n))
	}
	return int(r.interval(uint32(n - 1)))
}

// interval draws uniformly from [0, max] the way NumPy's legacy bounded integers and
// random_interval do: mask = smallest 2^b-1 >= max, repeat next&mask until <= max.
func (r *NumpyRandom) interval(max uint32) uint32 {
	if max == 0 {
		return 0
	}
	mask := uint32(1)<<bits.Len32(max) - 1
	if bits.Len32(max) == 32 {
		mask = 0xffffffff
	}
	for {
		if v := r.mt.next() & mask; v <= max {
			return v
		}
	}
}

// ChoiceP is np.random.choice(len(p), p=p) for probabilities already converted to float64
// (NumPy converts the float32 array the miners build to float64 exactly): cdf = cumsum(p),
// cdf /= cdf[-1], u = random_sample(), index = searchsorted(cdf, u, side='right').
// It returns -1 without consuming the generator when p has no positive finite mass (NumPy
// would raise; the callers treat this as "no candidate").
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

// Permutation is np.random.permutation(n) (legacy shuffle of arange(n)); used to check the
// generator against NumPy's published vectors.
func (r *NumpyRandom) Permutation(n int) []int {
	a := make([]int, n)
	for i := range a {
		a[i] = i
	}
	for i := n - 1; i >= 1; i-- {
		j := int(r.interval(uint32(i)))
		a[i], a[j] = a[j], a[i]
	}
	return a
}

// PyRandom is what the random miner needs from CPython's random module: _randbelow(n).
// stages/load's *PyRandom (load.NewPyRandom) satisfies it, and so does this package's
// *PythonRandom; the train loop should pass the same generator its batch sampler uses,
// because the original's random miner draws from Python's global `random`, the sampler's
// stream (§3.1, §8.5).
type PyRandom interface {
	RandBelow(n int) int
}

// PythonRandom is a minimal CPython random.Random (seed from an int, getrandbits,
// _randbelow) for callers and tests that have no stages/load generator at hand.
type PythonRandom struct{ mt mt19937 }

// NewPythonRandom returns a generator in the state of random.seed(seed).
func NewPythonRandom(seed int64) *PythonRandom {
	r := &PythonRandom{}
	r.Seed(seed)
	return r
}

// Seed is random.seed(int): init_by_array over the 32-bit little-endian words of |seed|.
func (r *PythonRandom) Seed(seed int64) {
	u := uint64(seed)
	if seed < 0 {
		u = uint64(-seed)
	}
	key := []uint32{uint32(u)}
	if hi := uint32(u >> 32); hi != 0 {
		key = append(key, hi)
	}
	m := &r.mt
	m.initGenrand(19650218)
	i, j := 1, 0
	k := 624
	if len(key) > k {
		k = len(key)
	}
	for ; k > 0; k-- {
		m.mt[i] = (m.mt[i] ^ ((m.mt[i-1] ^ (m.mt[i-1] >> 30)) * 1664525)) + key[j] + uint32(j)
		i++
		j++
		if i >= 624 {
			m.mt[0] = m.mt[623]
			i = 1
		}
		if j >= len(key) {
			j = 0
		}
	}
	for k = 623; k > 0; k-- {
		m.mt[i] = (m.mt[i] ^ ((m.mt[i-1] ^ (m.mt[i-1] >> 30)) * 1566083941)) - uint32(i)
		i++
		if i >= 624 {
			m.mt[0] = m.mt[623]
			i = 1
		}
	}
	m.mt[0] = 0x80000000
	m.idx = 624
}

// RandBelow is random._randbelow(n) for 0 < n <= 2^32: getrandbits(n.bit_length()) until
// the value is below n.
func (r *PythonRandom) RandBelow(n int) int {
	if n < 1 || uint64(n) > 1<<32 {
		panic(fmt.Sprintf("miners: PythonRandom.RandBelow(%d) out of range (programmer error)", n))
	}
	k := bits.Len64(uint64(n))
	for {
		var v uint64
		if k > 32 { // only n == 2^32
			v = uint64(r.mt.next()) | uint64(r.mt.next()>>31)<<32
		} else {
			v = uint64(r.mt.next() >> (32 - k))
		}
		if v < uint64(n) {
			return int(v)
		}
	}
}

// pySample returns the indices random.sample(range(n), k) picks (CPython 3.x algorithm:
// pool swapping when n is at most the set-size threshold, else rejection on a set).
// 0 <= k <= n is the caller's job.
func pySample(r PyRandom, n, k int) []int {
	out := make([]int, k)
	setsize := 21
	if k > 5 {
		setsize += 1 << (2 * ceilLog4(3*k))
	}
	if n <= setsize {
		pool := make([]int, n)
		for i := range pool {
			pool[i] = i
		}
		for i := 0; i < k; i++ {
			j := r.RandBelow(n - i)
			out[i] = pool[j]
			pool[j] = pool[n-i-1]
		}
		return out
	}
	selected := make(map[int]bool, k)
	for i := 0; i < k; i++ {
		j := r.RandBelow(n)
		for selected[j] {
			j = r.RandBelow(n)
		}
		selected[j] = true
		out[i] = j
	}
	return out
}

// ceilLog4 is math.ceil(math.log(x, 4)) for x >= 1, computed exactly on integers (x = 3k
// is never a power of 4, so float rounding in CPython cannot move the result).
func ceilLog4(x int) int {
	e := 0
	for p := 1; p < x; p *= 4 {
		e++
	}
	return e
}
