package metrics

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

var rhoMetric = Metric{
	Names:   []string{"rho_spectrum@M"},
	Param:   "M",
	Summary: "rho_spectrum@M (M a non-zero integer, optional suffix @embeds)",
	Doc: "The original's spectral decay rho_spectrum@M: the singular values of the embeddings without the first " +
		"|M|-1, normalised to sum 1, compared with the uniform spectrum by KL divergence (KL(uniform || s) for " +
		"M > 0, KL(s || uniform) for M < 0). Exact singular values, where the original's CPU path approximated them.",
	Examples: []string{"rho_spectrum@1", "rho_spectrum@-1"},
	parse: func(name string) (metric, bool, error) {
		r, ok := strings.CutPrefix(name, "rho_spectrum@")
		if !ok {
			return metric{}, false, nil
		}
		m, err := strconv.Atoi(strings.TrimSuffix(r, "@embeds"))
		if err != nil || m == 0 {
			return metric{}, true, errors.New("M must be a non-zero integer (rho_spectrum@0 would be the whole spectrum, a vector)")
		}
		return metric{value: func(in *inputs) (float64, error) { return RhoSpectrum(in.x, m) }}, true, nil
	},
}

// SingularValues returns the min(N, D) singular values of x, largest first, computed exactly
// (up to float64 round-off) as the square roots of the eigenvalues of the D x D Gram matrix
// XᵀX, found by cyclic Jacobi rotations. X is not centred, matching both the original's
// torch.svd (GPU) and its TruncatedSVD (CPU) paths.
//
// Difference from the original's CPU path: sklearn TruncatedSVD(n_components = D−1,
// n_iter 7, random_state 42) is a randomized approximation that returns only D−1 values;
// we return all of them, exactly, as the original's full-SVD (GPU) path does. Squaring the
// matrix loses relative precision only for singular values below ~1e-8·s_max, which carry
// no weight in the normalised spectrum.
func SingularValues(x Matrix) []float64 {
	d := x.Cols
	g := make([]float64, d*d)
	row := make([]float64, d)
	for i := 0; i < x.Rows; i++ {
		for j, v := range x.Row(i) {
			row[j] = float64(v)
		}
		for a := 0; a < d; a++ {
			ra := row[a]
			if ra == 0 {
				continue
			}
			ga := g[a*d:]
			for b := a; b < d; b++ {
				ga[b] += ra * row[b]
			}
		}
	}
	for a := 0; a < d; a++ {
		for b := 0; b < a; b++ {
			g[a*d+b] = g[b*d+a]
		}
	}
	ev := jacobiEigenvalues(g, d)
	sort.Sort(sort.Reverse(sort.Float64Slice(ev)))
	m := min(x.Rows, d)
	s := make([]float64, m)
	for i := range s {
		s[i] = math.Sqrt(math.Max(ev[i], 0))
	}
	return s
}

// jacobiEigenvalues returns the eigenvalues of the symmetric n x n matrix a (destroyed).
func jacobiEigenvalues(a []float64, n int) []float64 {
	for sweep := 0; sweep < 100; sweep++ {
		var off, diag float64
		for p := 0; p < n; p++ {
			diag += a[p*n+p] * a[p*n+p]
			for q := p + 1; q < n; q++ {
				off += a[p*n+q] * a[p*n+q]
			}
		}
		if off <= 1e-30*diag || off == 0 {
			break
		}
		for p := 0; p < n-1; p++ {
			for q := p + 1; q < n; q++ {
				apq := a[p*n+q]
				if apq == 0 {
					continue
				}
				app, aqq := a[p*n+p], a[q*n+q]
				theta := (aqq - app) / (2 * apq)
				t := 1 / (math.Abs(theta) + math.Sqrt(theta*theta+1))
				if theta < 0 {
					t = -t
				}
				c := 1 / math.Sqrt(t*t+1)
				s := t * c
				for k := 0; k < n; k++ { // rows p and q
					akp, akq := a[p*n+k], a[q*n+k]
					a[p*n+k] = c*akp - s*akq
					a[q*n+k] = s*akp + c*akq
				}
				for k := 0; k < n; k++ { // columns p and q
					akp, akq := a[k*n+p], a[k*n+q]
					a[k*n+p] = c*akp - s*akq
					a[k*n+q] = s*akp + c*akq
				}
			}
		}
	}
	ev := make([]float64, n)
	for i := range ev {
		ev[i] = a[i*n+i]
	}
	return ev
}

// RhoSpectrum is rho_spectrum@mode: singular values s (largest first), drop the first
// |mode|−1, normalise to sum 1, then for mode > 0 KL(uniform ‖ s) = Σ (1/n) ln((1/n)/s_i)
// (reference-method.md §9.3) and for mode < 0 KL(s ‖ uniform), as the original's scipy
// entropy calls do. mode 0 (the raw normalised spectrum, a vector) is not a scalar metric.
func RhoSpectrum(x Matrix, mode int) (float64, error) {
	if mode == 0 {
		return 0, fmt.Errorf("rho_spectrum@0 is a vector, not a scalar metric; use a positive or negative mode")
	}
	s := SingularValues(x)
	drop := abs(mode) - 1
	if drop >= len(s) {
		return 0, fmt.Errorf("rho_spectrum@%d: only %d singular values", mode, len(s))
	}
	s = s[drop:]
	var sum float64
	for _, v := range s {
		sum += v
	}
	n := float64(len(s))
	var kl float64
	for _, v := range s {
		p := v / sum
		if mode > 0 {
			kl += (1 / n) * math.Log((1/n)/p)
		} else if p > 0 {
			kl += p * math.Log(p*n)
		}
	}
	return kl, nil
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}
