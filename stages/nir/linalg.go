package nir

import (
	"math"
	"sort"
)

// Small dense linear algebra in float64 for inspection and tests; D is at most a few hundred.

// symEigenvalues returns the eigenvalues of the symmetric n x n matrix a (row-major, not
// modified), in descending order. Householder reduction to tridiagonal form, then Sturm
// sequence bisection for each eigenvalue (absolute accuracy ~1e-15 * ||a||).
func symEigenvalues(a []float64, n int) []float64 {
	m := append([]float64(nil), a...)
	at := func(i, j int) *float64 { return &m[i*n+j] }
	v := make([]float64, n)
	p := make([]float64, n)
	for k := 0; k < n-2; k++ {
		// Householder vector for column k below the diagonal.
		var norm float64
		for i := k + 1; i < n; i++ {
			norm += *at(i, k) * *at(i, k)
		}
		norm = math.Sqrt(norm)
		if norm == 0 {
			continue
		}
		alpha := -norm
		if *at(k+1, k) < 0 {
			alpha = norm
		}
		var vn float64
		for i := k + 1; i < n; i++ {
			v[i] = *at(i, k)
		}
		v[k+1] -= alpha
		for i := k + 1; i < n; i++ {
			vn += v[i] * v[i]
		}
		vn = math.Sqrt(vn)
		if vn == 0 {
			continue
		}
		for i := k + 1; i < n; i++ {
			v[i] /= vn
		}
		// Trailing block B <- H B H with H = I - 2 v v^T: B - 2(v w^T + w v^T), w = Bv - (v.Bv) v.
		var kk float64
		for i := k + 1; i < n; i++ {
			var s float64
			for j := k + 1; j < n; j++ {
				s += *at(i, j) * v[j]
			}
			p[i] = s
			kk += v[i] * s
		}
		for i := k + 1; i < n; i++ {
			p[i] -= kk * v[i]
		}
		for i := k + 1; i < n; i++ {
			for j := k + 1; j < n; j++ {
				*at(i, j) -= 2 * (v[i]*p[j] + p[i]*v[j])
			}
		}
		*at(k+1, k), *at(k, k+1) = alpha, alpha
		for i := k + 2; i < n; i++ {
			*at(i, k), *at(k, i) = 0, 0
		}
	}
	d := make([]float64, n)
	e2 := make([]float64, n) // e2[i] = (T[i, i+1])^2
	for i := 0; i < n; i++ {
		d[i] = *at(i, i)
		if i+1 < n {
			e2[i] = *at(i, i+1) * *at(i, i+1)
		}
	}
	// Gershgorin interval.
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := 0; i < n; i++ {
		r := 0.0
		if i > 0 {
			r += math.Sqrt(e2[i-1])
		}
		if i+1 < n {
			r += math.Sqrt(e2[i])
		}
		lo = math.Min(lo, d[i]-r)
		hi = math.Max(hi, d[i]+r)
	}
	scale := math.Max(math.Abs(lo), math.Abs(hi))
	// countBelow is the number of eigenvalues < x (Sturm sequence of the tridiagonal T - xI).
	tiny := 1e-300
	countBelow := func(x float64) int {
		c := 0
		q := 1.0
		for i := 0; i < n; i++ {
			if i == 0 {
				q = d[0] - x
			} else {
				q = d[i] - x - e2[i-1]/q
			}
			if q == 0 {
				q = -tiny
			}
			if q < 0 {
				c++
			}
		}
		return c
	}
	eig := make([]float64, n)
	for k := 0; k < n; k++ { // k-th smallest: the x where countBelow crosses k
		a, b := lo, hi
		for it := 0; it < 200 && b-a > 1e-15*scale+1e-300; it++ {
			mid := 0.5 * (a + b)
			if countBelow(mid) > k {
				b = mid
			} else {
				a = mid
			}
		}
		eig[k] = 0.5 * (a + b)
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(eig)))
	return eig
}

// logAbsDet returns log|det a| of the n x n row-major matrix a by LU with partial pivoting.
func logAbsDet(a []float64, n int) float64 {
	m := append([]float64(nil), a...)
	var ld float64
	for k := 0; k < n; k++ {
		piv := k
		for i := k + 1; i < n; i++ {
			if math.Abs(m[i*n+k]) > math.Abs(m[piv*n+k]) {
				piv = i
			}
		}
		if m[piv*n+k] == 0 {
			return math.Inf(-1)
		}
		if piv != k {
			for j := 0; j < n; j++ {
				m[k*n+j], m[piv*n+j] = m[piv*n+j], m[k*n+j]
			}
		}
		ld += math.Log(math.Abs(m[k*n+k]))
		for i := k + 1; i < n; i++ {
			f := m[i*n+k] / m[k*n+k]
			for j := k; j < n; j++ {
				m[i*n+j] -= f * m[k*n+j]
			}
		}
	}
	return ld
}
