package report

import (
	"slices"
	"testing"
)

func TestNiceTicks(t *testing.T) {
	cases := []struct {
		lo, hi  float64
		integer bool
		want    []float64
	}{
		{0, 1, false, []float64{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1}},
		{0, 1, true, []float64{0, 1}},
		{0, 99, true, []float64{0, 20, 40, 60, 80, 100}},
		{0.3, 0.62, false, []float64{0.3, 0.4, 0.5, 0.6, 0.7}},
	}
	for _, c := range cases {
		if got := niceTicks(c.lo, c.hi, 6, c.integer); !slices.EqualFunc(got, c.want, func(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }) {
			t.Errorf("niceTicks(%v, %v, %v) = %v, want %v", c.lo, c.hi, c.integer, got, c.want)
		}
	}
}
