package stage

import (
	"math"
	"testing"
)

func TestFormatLoss(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want string
	}{
		{0, "0.0000"},
		{0.43121, "0.4312"},
		{14.05712, "14.0571"},
		{-2.5, "-2.5000"},
		{99999.9, "99999.9000"},
		{1e5, "1e+05"},
		{123456789, "1.235e+08"},
		{-3.4e12, "-3.4e+12"},
		{1e-4, "0.0001"},
		{3.2e-6, "3.2e-06"},
		{math.NaN(), "NaN"},
		{math.Inf(1), "+Inf"},
		{math.Inf(-1), "-Inf"},
	} {
		if got := FormatLoss(c.v); got != c.want {
			t.Errorf("FormatLoss(%v) = %s, want %s", c.v, got, c.want)
		}
	}
}
