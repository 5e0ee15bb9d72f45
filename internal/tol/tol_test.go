package tol

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSumBoundHolds: float32 sums of the same terms in two orders (forward, and pairwise
// as vector kernels add) stay within 2·Sum of each other, for lengths up to 10^5.
func TestSumBoundHolds(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{3, 27, 1000, 100000} {
		x := make([]float32, n)
		var mag float64
		for i := range x {
			x[i] = float32(r.NormFloat64())
			mag += math.Abs(float64(x[i]))
		}
		var fwd float32
		for _, v := range x {
			fwd += v
		}
		pw := pairwise(x)
		if d := math.Abs(float64(fwd - pw)); d > 2*Sum(Eps32, n)*mag {
			t.Errorf("n=%d: orders differ by %g, bound %g", n, d, 2*Sum(Eps32, n)*mag)
		}
	}
}

func pairwise(x []float32) float32 {
	if len(x) <= 8 {
		var s float32
		for _, v := range x {
			s += v
		}
		return s
	}
	h := len(x) / 2
	return pairwise(x[:h]) + pairwise(x[h:])
}

func TestFirstDrawMismatch(t *testing.T) {
	want := []float64{0.5, -0.25, 0.049453896}
	sameStream := []float64{0.5, -0.25, 0.049453866} // 8 float32 ulps of 0.049, 0.5 ulp of the range
	if i := FirstDrawMismatch(sameStream, want, Eps32); i != -1 {
		t.Errorf("the same draw on another CPU rejected at %d", i)
	}
	shifted := []float64{-0.25, 0.049453896, 0.11}
	if i := FirstDrawMismatch(shifted, want, Eps32); i != 0 {
		t.Errorf("a stream off by one draw: mismatch at %d, want 0", i)
	}
	if i := FirstDrawMismatch([]float64{0.5, math.NaN(), 0}, want, Eps32); i != 1 {
		t.Errorf("NaN: mismatch at %d, want 1", i)
	}
	if i := FirstDrawMismatch(want[:2], want, Eps32); i != 2 {
		t.Errorf("short: mismatch at %d, want 2", i)
	}
}
