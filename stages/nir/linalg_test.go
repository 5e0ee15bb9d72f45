package nir

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// randomOrthogonal returns an n x n orthogonal matrix (Gram-Schmidt of a Gaussian matrix).
func randomOrthogonal(r *rand.Rand, n int) []float64 {
	q := make([]float64, n*n)
	for i := range q {
		q[i] = r.NormFloat64()
	}
	for i := 0; i < n; i++ { // rows
		for j := 0; j < i; j++ {
			var dot float64
			for k := 0; k < n; k++ {
				dot += q[i*n+k] * q[j*n+k]
			}
			for k := 0; k < n; k++ {
				q[i*n+k] -= dot * q[j*n+k]
			}
		}
		var nn float64
		for k := 0; k < n; k++ {
			nn += q[i*n+k] * q[i*n+k]
		}
		nn = math.Sqrt(nn)
		for k := 0; k < n; k++ {
			q[i*n+k] /= nn
		}
	}
	return q
}

func TestSymEigenvaluesKnownSpectrum(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 3, 8, 40, 130} {
		want := make([]float64, n)
		for i := range want {
			want[i] = math.Exp(3 * r.NormFloat64()) // spread over orders of magnitude
		}
		if n > 3 {
			want[1] = want[0] // a repeated eigenvalue
		}
		q := randomOrthogonal(r, n)
		a := make([]float64, n*n) // Q^T diag(want) Q
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				var s float64
				for k := 0; k < n; k++ {
					s += q[k*n+i] * want[k] * q[k*n+j]
				}
				a[i*n+j] = s
			}
		}
		got := symEigenvalues(a, n)
		sort.Sort(sort.Reverse(sort.Float64Slice(want)))
		maxEig := want[0]
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-10*maxEig {
				t.Fatalf("n=%d eigenvalue %d: got %g want %g", n, i, got[i], want[i])
			}
		}
	}
}

func TestLogAbsDet(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	n := 7
	q := randomOrthogonal(r, n)
	// det(Q diag(s)) = ±prod s.
	s := []float64{2, -0.5, 3, 1e-3, 7, -1, 0.25}
	a := make([]float64, n*n)
	want := 0.0
	for j := 0; j < n; j++ {
		want += math.Log(math.Abs(s[j]))
	}
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			a[i*n+j] = q[i*n+j] * s[j]
		}
	}
	if got := logAbsDet(a, n); math.Abs(got-want) > 1e-12 {
		t.Fatalf("log|det| = %g want %g", got, want)
	}
}
