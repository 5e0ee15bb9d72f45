// Package tol derives the tolerances that tests use to compare floating-point results with
// references computed elsewhere (PyTorch, NumPy, another CPU), from the dtype and the length
// of the computation, so that they hold on any x86-64 CPU, thread count and load.
//
// Why a comparison needs one: libtorch picks kernels by the CPU's vector width (AVX2,
// AVX-512, scalar) and splits reductions over threads, so the same sum is added in another
// order on another machine. Each order is within the rounding-error bound of a sum of n
// terms, n·u·Σ|terms| to first order (Higham, "Accuracy and Stability of Numerical
// Algorithms", §4.2; u = eps/2 is the unit roundoff), so two of them differ by at most
// twice that. A tolerance below it fails on some machine; one far above it hides bugs.
//
// What it is not: tol has no assertion helpers beyond the one comparison of random draws;
// each test keeps its own way of reporting.
package tol

import "math"

const (
	// Eps32 is float32's machine epsilon (the spacing of floats at 1), 2^-23.
	Eps32 = 0x1p-23
	// Eps64 is float64's machine epsilon, 2^-52.
	Eps64 = 0x1p-52
)

// Sum is the first-order bound on the rounding error of a sum (or dot product) of n terms
// in a dtype with epsilon eps, relative to the sum of the terms' absolute values: n·eps/2.
// Two implementations that add in different orders differ by at most 2·Sum(eps, n).
func Sum(eps float64, n int) float64 { return float64(n) * eps / 2 }

// Layers is the relative tolerance for the output of a network of depth layers whose
// longest reduction has k terms, compared across implementations: each layer adds about
// sqrt(k)·eps of relative error (rounding errors of a long sum behave like a random walk,
// Higham §2.8), layers add up, and a factor 8 covers the amplification of normalisation
// layers. A wrong layer (a missing BN, a transposed weight) moves outputs by O(1), far
// beyond it.
func Layers(eps float64, depth, k int) float64 {
	return 8 * float64(depth) * math.Sqrt(float64(k)) * eps
}

// DrawULPs is how many rounding errors, in units of the draw's scale, separate the same
// random numbers transformed by two math libraries: libtorch turns the generator's bits into
// normal or uniform values with vectorised (Sleef) or scalar (libm) log, cos and sqrt by
// CPU, each within an ulp or two, and scales them (x·(b-a)+a cancels near 0, so the error
// is relative to the range, not to the value).
const DrawULPs = 8

// FirstDrawMismatch returns the index of the first value of got that differs from want by
// more than DrawULPs·eps·scale, scale being the largest |want|, or -1 when none does. The
// same stream drawn on another CPU passes; a stream that is off by one draw or seeded
// differently moves values by O(scale) and fails.
func FirstDrawMismatch(got, want []float64, eps float64) int {
	if len(got) != len(want) {
		return min(len(got), len(want))
	}
	scale := 0.0
	for _, w := range want {
		scale = math.Max(scale, math.Abs(w))
	}
	limit := DrawULPs * eps * scale
	for i := range want {
		if !(math.Abs(got[i]-want[i]) <= limit) {
			return i
		}
	}
	return -1
}
