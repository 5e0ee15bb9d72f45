package rng

// FaissRandInt selects how faiss's RandomGenerator::rand_int(max) maps one 32-bit draw to
// [0, max). The Debian faiss 1.7.3 this project checks against uses the modulo form (see
// stages/evaluate/testdata/gen_reference.py, which records the variant); later faiss
// releases switched to the multiply-shift form.
type FaissRandInt int

const (
	FaissModulo   FaissRandInt = iota // mt() % max (faiss <= 1.7.x, Debian 1.7.3)
	FaissMulShift                     // (uint64(mt()) * max) >> 32 (current faiss)
)

func (v FaissRandInt) String() string {
	if v == FaissMulShift {
		return "mulshift"
	}
	return "modulo"
}

// FaissRandom is faiss's RandomGenerator: a C++ std::mt19937 seeded with one integer (the
// reference init_genrand), plus faiss's conversions. k-means initialisation and
// empty-cluster splitting draw from it and must see the same numbers as faiss.
// Not safe for concurrent use.
type FaissRandom struct{ mt MT19937 }

// NewFaissRandom returns faiss's RandomGenerator(seed), whose constructor is
// mt((unsigned int)seed): the seed is truncated to its low 32 bits.
func NewFaissRandom(seed int64) *FaissRandom {
	f := &FaissRandom{}
	f.mt.SeedGenrand(uint32(seed))
	return f
}

// Uint32 returns the next std::mt19937 output, mt().
func (f *FaissRandom) Uint32() uint32 { return f.mt.Uint32() }

// RandInt is rand_int(max) for 0 < max < 2^32 as the faiss release with variant v computes
// it.
func (f *FaissRandom) RandInt(max int, v FaissRandInt) int {
	x := f.mt.Uint32()
	if v == FaissMulShift {
		return int((uint64(x) * uint64(max)) >> 32)
	}
	return int(x % uint32(max))
}

// RandFloat is rand_float(): mt() / float(mt.max()), evaluated in float32 as C++ does (both
// operands are converted to float before the division).
func (f *FaissRandom) RandFloat() float32 {
	return float32(f.mt.Uint32()) / float32(4294967295)
}

// FaissRandPerm is faiss's rand_perm(perm, n, seed): identity, then a forward Fisher-Yates
// with swap(i, i + rand_int(n - i)) for i in 0..n-2, drawing from RandomGenerator(seed).
func FaissRandPerm(n int, seed int64, v FaissRandInt) []int {
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	g := NewFaissRandom(seed)
	for i := 0; i+1 < n; i++ {
		j := i + g.RandInt(n-i, v)
		perm[i], perm[j] = perm[j], perm[i]
	}
	return perm
}
