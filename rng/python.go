package rng

import (
	"fmt"
	"math/bits"
)

// PyRandom reproduces CPython's random.Random (the generator behind the global random
// module) for the calls dmlrun replays: seeding from an int, getrandbits, _randbelow,
// choice, sample and random(). Seeded the same way, it returns the same numbers as CPython
// 3.x, so batch composition and random mining are bit-exact with the original.
// Not safe for concurrent use.
type PyRandom struct{ mt MT19937 }

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
	r.mt.SeedByArray(key)
}

// Uint32 returns the next raw 32-bit output (getrandbits(32)).
func (r *PyRandom) Uint32() uint32 { return r.mt.Uint32() }

// GetRandBits is random.getrandbits(k) for 0 < k <= 32: the top k bits of one output.
func (r *PyRandom) GetRandBits(k int) uint32 {
	if k <= 0 || k > 32 {
		panic(fmt.Sprintf("rng: PyRandom.GetRandBits(%d) out of range (programmer error)", k))
	}
	return r.mt.Uint32() >> (32 - k)
}

// RandBelow is random._randbelow(n) for 0 < n <= 2^32: getrandbits(n.bit_length()) until
// the value is below n. Only n == 2^32 needs 33 bits, which CPython draws as a full low
// word followed by the top bit of a second one.
func (r *PyRandom) RandBelow(n int) int {
	if n < 1 || uint64(n) > 1<<32 {
		panic(fmt.Sprintf("rng: PyRandom.RandBelow(%d) out of range (programmer error)", n))
	}
	k := bits.Len64(uint64(n))
	for {
		var v uint64
		if k > 32 {
			v = uint64(r.mt.Uint32()) | uint64(r.mt.Uint32()>>31)<<32
		} else {
			v = uint64(r.mt.Uint32() >> (32 - k))
		}
		if v < uint64(n) {
			return int(v)
		}
	}
}

// Choice returns the index random.choice(seq) picks for a sequence of length n.
func (r *PyRandom) Choice(n int) int { return r.RandBelow(n) }

// Random is random.random(): a 53-bit float in [0, 1) from two outputs.
func (r *PyRandom) Random() float64 { return r.mt.float53() }

// Sample returns the indices random.sample(range(n), k) picks; see the function Sample.
func (r *PyRandom) Sample(n, k int) []int { return Sample(r, n, k) }

// RandBelower is the one call CPython's choice and sample build on. *PyRandom implements
// it; code that must draw from "Python's global generator" owned by someone else (the
// random miner draws from the batch sampler's) accepts a RandBelower.
type RandBelower interface {
	RandBelow(n int) int
}

// Sample returns the indices random.sample(range(n), k) picks when drawing from r, with
// CPython 3.x's algorithm: a shrinking pool when n is at most the set-size threshold,
// otherwise rejection of repeats against a set. 0 <= k <= n is the caller's job.
func Sample(r RandBelower, n, k int) []int {
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
