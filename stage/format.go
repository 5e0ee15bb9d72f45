package stage

import (
	"math"
	"strconv"
)

// FormatLoss renders a loss (or another training scalar) for progress lines and logs, the
// one form every place that prints a loss uses: four decimals where losses usually live
// ("0.4312", "14.0571"), four significant digits in scientific notation when |v| >= 1e5 or
// 0 < |v| < 1e-4 ("1.235e+07", "3.2e-06"), so that a diverging loss stays short and
// readable and a vanishing one does not read as 0.0000. NaN and infinities read "NaN",
// "+Inf" and "-Inf".
func FormatLoss(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case a >= 1e5 || a > 0 && a < 1e-4:
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}
