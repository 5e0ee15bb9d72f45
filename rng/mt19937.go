package rng

// Parameters of MT19937 (Matsumoto & Nishimura 1998, "Mersenne Twister: a 623-dimensionally
// equidistributed uniform pseudo-random number generator").
const (
	mtN         = 624
	mtM         = 397
	mtMatrixA   = 0x9908b0df
	mtUpperMask = 0x80000000
	mtLowerMask = 0x7fffffff
)

// MT19937 is the 32-bit Mersenne Twister, the core that CPython's random module, NumPy's
// legacy RandomState and C++ std::mt19937 share. They differ only in how they seed it and in
// how they turn its 32-bit outputs into numbers, which is what the front-ends in this
// package do.
//
// The zero value is not seeded; call SeedGenrand or SeedByArray first (or use NewMT19937).
type MT19937 struct {
	mt  [mtN]uint32
	idx int
}

// NewMT19937 returns a generator in the state of init_genrand(seed), which is also C++
// std::mt19937(seed) and NumPy's np.random.seed(seed).
func NewMT19937(seed uint32) *MT19937 {
	m := &MT19937{}
	m.SeedGenrand(seed)
	return m
}

// SeedGenrand is the reference init_genrand(s): the state NumPy's legacy seed(s) and C++
// std::mt19937's seed(s) produce.
func (m *MT19937) SeedGenrand(s uint32) {
	m.mt[0] = s
	for i := 1; i < mtN; i++ {
		m.mt[i] = 1812433253*(m.mt[i-1]^(m.mt[i-1]>>30)) + uint32(i)
	}
	m.idx = mtN
}

// SeedByArray is the reference init_by_array(key): the state CPython's random.seed(int)
// produces from the integer's 32-bit little-endian words. key must not be empty.
func (m *MT19937) SeedByArray(key []uint32) {
	if len(key) == 0 {
		panic("rng: SeedByArray with an empty key (programmer error)")
	}
	m.SeedGenrand(19650218)
	i, j := 1, 0
	k := max(mtN, len(key))
	for ; k > 0; k-- {
		m.mt[i] = (m.mt[i] ^ ((m.mt[i-1] ^ (m.mt[i-1] >> 30)) * 1664525)) + key[j] + uint32(j)
		i++
		j++
		if i >= mtN {
			m.mt[0] = m.mt[mtN-1]
			i = 1
		}
		if j >= len(key) {
			j = 0
		}
	}
	for k = mtN - 1; k > 0; k-- {
		m.mt[i] = (m.mt[i] ^ ((m.mt[i-1] ^ (m.mt[i-1] >> 30)) * 1566083941)) - uint32(i)
		i++
		if i >= mtN {
			m.mt[0] = m.mt[mtN-1]
			i = 1
		}
	}
	m.mt[0] = 0x80000000 // MSB is 1, assuring a non-zero initial array
	m.idx = mtN
}

// Uint32 returns the next tempered 32-bit output (genrand_int32; operator() of
// std::mt19937).
func (m *MT19937) Uint32() uint32 {
	if m.idx >= mtN {
		for i := 0; i < mtN; i++ {
			y := m.mt[i]&mtUpperMask | m.mt[(i+1)%mtN]&mtLowerMask
			v := m.mt[(i+mtM)%mtN] ^ (y >> 1)
			if y&1 != 0 {
				v ^= mtMatrixA
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

// float53 is genrand_res53, the 53-bit double in [0, 1) that both CPython's random() and
// NumPy's random_sample() build from two outputs: (a*2^26 + b) / 2^53 with a = x>>5 and
// b = y>>6. Every step is exact in float64.
func (m *MT19937) float53() float64 {
	a := m.Uint32() >> 5
	b := m.Uint32() >> 6
	return (float64(a)*67108864.0 + float64(b)) / 9007199254740992.0
}
