package load

import "math/bits"

// mt19937 is the Mersenne Twister generator (Matsumoto & Nishimura, 2002 reference
// algorithm) that both CPython's random module and NumPy's legacy RandomState use.
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

func (m *mt19937) initByArray(key []uint32) {
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

func (m *mt19937) next() uint32 {
	if m.idx >= 624 {
		const upper, lower = 0x80000000, 0x7fffffff
		for k := 0; k < 624; k++ {
			y := (m.mt[k] & upper) | (m.mt[(k+1)%624] & lower)
			v := m.mt[(k+397)%624] ^ (y >> 1)
			if y&1 != 0 {
				v ^= 0x9908b0df
			}
			m.mt[k] = v
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

// PyRandom reproduces CPython's random.Random for the calls the samplers make: seeding
// from an int, getrandbits, _randbelow, choice and random(). The original code uses the
// global random module, re-seeded every epoch (reference-method §3.1, §8.5), so batch
// composition is bit-exact with the original when seeded the same way.
// A PyRandom is not safe for concurrent use.
type PyRandom struct{ mt mt19937 }

// NewPyRandom returns a generator in the state of random.seed(seed).
func NewPyRandom(seed int64) *PyRandom {
	r := &PyRandom{}
	r.Seed(seed)
	return r
}

// Seed re-seeds like CPython's random.seed(int): init_by_array with the 32-bit
// little-endian words of |seed| (key [0] for 0).
func (r *PyRandom) Seed(seed int64) {
	u := uint64(seed)
	if seed < 0 {
		u = uint64(-seed) // CPython uses abs(); -MinInt64 wraps to itself, which is 2^63 as uint64
	}
	key := []uint32{uint32(u)}
	if hi := uint32(u >> 32); hi != 0 {
		key = append(key, hi)
	}
	r.mt.initByArray(key)
}

// Uint32 returns the next raw 32-bit output.
func (r *PyRandom) Uint32() uint32 { return r.mt.next() }

// GetRandBits is random.getrandbits(k) for 0 < k <= 32.
func (r *PyRandom) GetRandBits(k int) uint32 {
	if k <= 0 || k > 32 {
		panic("load: GetRandBits k out of range (programmer error)")
	}
	return r.mt.next() >> (32 - k)
}

// RandBelow is random._randbelow(n) for 0 < n < 2^32: rejection sampling on
// getrandbits(n.bit_length()).
func (r *PyRandom) RandBelow(n int) int {
	if n <= 0 || uint64(n) > 1<<32 {
		panic("load: RandBelow n out of range (programmer error)")
	}
	k := bits.Len64(uint64(n))
	if k > 32 {
		k = 32
	}
	for {
		v := int(r.GetRandBits(k))
		if v < n {
			return v
		}
	}
}

// Choice returns the index random.choice(seq) picks for a sequence of length n.
func (r *PyRandom) Choice(n int) int { return r.RandBelow(n) }

// Random is random.random(): a 53-bit float in [0, 1).
func (r *PyRandom) Random() float64 {
	a := r.mt.next() >> 5
	b := r.mt.next() >> 6
	return (float64(a)*67108864.0 + float64(b)) * (1.0 / 9007199254740992.0)
}

// NumpyRandom reproduces NumPy's legacy global generator (np.random.seed /
// np.random.choice(n)) as the `random` sampler uses it (reference-method §3.2).
type NumpyRandom struct{ mt mt19937 }

// NewNumpyRandom returns a generator in the state of np.random.seed(seed). NumPy's legacy
// seeding of an integer in [0, 2^32) is init_genrand(seed), not init_by_array.
func NewNumpyRandom(seed uint32) *NumpyRandom {
	r := &NumpyRandom{}
	r.Seed(seed)
	return r
}

// Seed re-seeds like np.random.seed(seed).
func (r *NumpyRandom) Seed(seed uint32) { r.mt.initGenrand(seed) }

// Choice is np.random.choice(n) = randint(0, n): legacy masked rejection sampling on
// 32-bit outputs (for n <= 2^32).
func (r *NumpyRandom) Choice(n int) int {
	if n <= 0 || uint64(n) > 1<<32 {
		panic("load: NumpyRandom.Choice n out of range (programmer error)")
	}
	rng := uint32(n - 1)
	if rng == 0 {
		return 0
	}
	mask := uint32(1)<<bits.Len32(rng) - 1
	if bits.Len32(rng) == 32 {
		mask = 0xffffffff
	}
	for {
		v := r.mt.next() & mask
		if v <= rng {
			return int(v)
		}
	}
}
