package report

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Level is the confidence level of diff's intervals.
const Level = 0.95

// MinSeeds is the fewest seeds a side needs before diff calls a difference significant
// (and names a better side). With 1 seed there is no spread at all; with 2 the spread is
// estimated from a single difference (1 degree of freedom), so the interval rests wholly
// on seed results being normally distributed, which two values cannot show, and a
// Student t quantile of 12.7 makes its width depend on one number.
const MinSeeds = 3

// interval is a confidence interval of mean(B) − mean(A) and how it was made.
type interval struct {
	Lo, Hi float64
	DF     float64 // degrees of freedom of the t quantile (+Inf when both sides have no spread)
	SE     float64 // standard error of the difference
}

// welch returns the Welch t interval of mean(b) − mean(a) at the given level: with
// v = s²/n per side (sample variance, n−1), SE = sqrt(v_a + v_b), the Welch–Satterthwaite
// degrees of freedom df = SE⁴ / (v_a²/(n_a−1) + v_b²/(n_b−1)), and the interval
// d ± t_{df, (1+level)/2} · SE. It does not assume equal variances, which two training
// recipes need not have, and is exact for normal data at any n ≥ 2.
//
// fixedA treats a as one exact value (an expected mean from a file, not a sample), which
// makes it the one-sample t interval of mean(b) − a[0] with n_b − 1 degrees of freedom.
// ok is false when a side has too few values for a spread (n < 2, or b with fixedA).
//
// When neither side varies (SE = 0), the interval is the point d: there is no seed noise
// to allow for.
func welch(a, b []float64, fixedA bool, level float64) (iv interval, ok bool) {
	nb := float64(len(b))
	if len(b) < 2 || len(a) < 1 || (!fixedA && len(a) < 2) {
		return interval{}, false
	}
	ma, mb := mean(a), mean(b)
	vb := sq(sampleStd(b, mb)) / nb
	va, dfDen := 0.0, sq(vb)/(nb-1)
	if !fixedA {
		na := float64(len(a))
		va = sq(sampleStd(a, ma)) / na
		dfDen += sq(va) / (na - 1)
	}
	d := mb - ma
	iv.SE = math.Sqrt(va + vb)
	if iv.SE == 0 {
		return interval{Lo: d, Hi: d, DF: math.Inf(1)}, true
	}
	iv.DF = sq(va+vb) / dfDen
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: iv.DF}.Quantile((1 + level) / 2)
	iv.Lo, iv.Hi = d-t*iv.SE, d+t*iv.SE
	return iv, true
}

func sq(x float64) float64 { return x * x }
