package nir

// This file reproduces NumPy's legacy global generator far enough to build the flow's fixed
// channel permutations: np.random.seed(k); np.random.permutation(D). FrEIA's PermuteRandom
// layer calls exactly that with seed = block index, so the permutations are part of the model
// and must be bit-identical to the original (reference-method.md §6.2).

// mt19937 is the 32-bit Mersenne Twister (Matsumoto & Nishimura 1998) as NumPy's RandomState
// uses it.
type mt19937 struct {
	mt  [624]uint32
	idx int
}

// newMT19937 seeds the generator with init_genrand(seed), which is what np.random.seed(k)
// does for an integer k < 2^32.
func newMT19937(seed uint32) *mt19937 {
	g := &mt19937{}
	g.mt[0] = seed
	for i := 1; i < 624; i++ {
		prev := g.mt[i-1]
		g.mt[i] = 1812433253*(prev^(prev>>30)) + uint32(i)
	}
	g.idx = 624
	return g
}

func (g *mt19937) next() uint32 {
	const (
		n         = 624
		m         = 397
		matrixA   = 0x9908b0df
		upperMask = 0x80000000
		lowerMask = 0x7fffffff
	)
	if g.idx >= n {
		for i := 0; i < n; i++ {
			y := (g.mt[i] & upperMask) | (g.mt[(i+1)%n] & lowerMask)
			v := g.mt[(i+m)%n] ^ (y >> 1)
			if y&1 != 0 {
				v ^= matrixA
			}
			g.mt[i] = v
		}
		g.idx = 0
	}
	y := g.mt[g.idx]
	g.idx++
	y ^= y >> 11
	y ^= (y << 7) & 0x9d2c5680
	y ^= (y << 15) & 0xefc60000
	y ^= y >> 18
	return y
}

// intervalUint32 draws uniformly from [0, max] the way NumPy's legacy rk_interval does:
// mask to the smallest 2^b-1 >= max and reject draws above max. max < 2^32 here, so only one
// 32-bit word is consumed per attempt.
func (g *mt19937) intervalUint32(max uint32) uint32 {
	if max == 0 {
		return 0
	}
	mask := max
	mask |= mask >> 1
	mask |= mask >> 2
	mask |= mask >> 4
	mask |= mask >> 8
	mask |= mask >> 16
	for {
		v := g.next() & mask
		if v <= max {
			return v
		}
	}
}

// NumpyPermutation returns what np.random.seed(seed); np.random.permutation(n) returns with
// NumPy's legacy RandomState: a Fisher-Yates shuffle of [0, n) from the last position down,
// each swap partner drawn by masked rejection.
func NumpyPermutation(seed uint32, n int) []int {
	g := newMT19937(seed)
	arr := make([]int, n)
	for i := range arr {
		arr[i] = i
	}
	for i := n - 1; i >= 1; i-- {
		j := int(g.intervalUint32(uint32(i)))
		arr[i], arr[j] = arr[j], arr[i]
	}
	return arr
}

// FlowPermutation is the channel permutation of flow block k for embedding dimension d:
// out[:, i] = in[:, perm[i]] (FrEIA PermuteRandom with seed k).
func FlowPermutation(k, d int) []int { return NumpyPermutation(uint32(k), d) }

// invertPermutation returns inv with inv[perm[i]] = i.
func invertPermutation(perm []int) []int {
	inv := make([]int, len(perm))
	for i, p := range perm {
		inv[p] = i
	}
	return inv
}
