package metrics

// mt19937 is the 32-bit Mersenne Twister exactly as C++ std::mt19937 defines it (seeded with
// a single integer, i.e. the reference init_genrand). faiss's RandomGenerator wraps one, and
// k-means initialisation and empty-cluster splitting must draw the same numbers as faiss.
type mt19937 struct {
	mt  [624]uint32
	idx int
}

func newMT19937(seed uint32) *mt19937 {
	m := &mt19937{}
	m.mt[0] = seed
	for i := 1; i < 624; i++ {
		m.mt[i] = 1812433253*(m.mt[i-1]^(m.mt[i-1]>>30)) + uint32(i)
	}
	m.idx = 624
	return m
}

func (m *mt19937) next() uint32 {
	if m.idx >= 624 {
		const upper, lower = 0x80000000, 0x7fffffff
		for i := 0; i < 624; i++ {
			y := (m.mt[i] & upper) | (m.mt[(i+1)%624] & lower)
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

// RandInt selects how faiss's RandomGenerator::rand_int(max) maps one 32-bit draw to [0, max).
// The Debian faiss 1.7.3 this project checks against uses the modulo form (verified by
// testdata/gen_reference.py, which records the variant); later faiss releases switched to the
// multiply-shift form.
type RandInt int

const (
	RandIntModulo   RandInt = iota // mt() % max (faiss <= 1.7.x, Debian 1.7.3)
	RandIntMulShift                // (uint64(mt()) * max) >> 32 (current faiss)
)

func (r RandInt) String() string {
	if r == RandIntMulShift {
		return "mulshift"
	}
	return "modulo"
}

func (m *mt19937) randInt(max int, v RandInt) int {
	x := m.next()
	if v == RandIntMulShift {
		return int((uint64(x) * uint64(max)) >> 32)
	}
	return int(x % uint32(max))
}

// randFloat is faiss's rand_float: mt() / float(mt.max()), evaluated in float32 as C++ does
// (both operands are converted to float before the division).
func (m *mt19937) randFloat() float32 {
	return float32(m.next()) / float32(4294967295)
}

// randPerm is faiss's rand_perm(perm, n, seed): identity, then a forward Fisher-Yates with
// swap(i, i + rand_int(n - i)) for i in 0..n-2.
func randPerm(n int, seed int64, v RandInt) []int {
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	rng := newMT19937(uint32(seed))
	for i := 0; i+1 < n; i++ {
		j := i + rng.randInt(n-i, v)
		perm[i], perm[j] = perm[j], perm[i]
	}
	return perm
}
