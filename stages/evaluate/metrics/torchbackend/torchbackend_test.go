package torchbackend

import (
	"slices"
	"testing"
)

func TestStableOrder(t *testing.T) {
	v := []float32{1, 2, 2, 2, 3, 3}
	idx := []int64{9, 7, 3, 5, 2, 1}
	dst := make([]int32, 5)
	stableOrder(v, idx, dst)
	if want := []int32{9, 3, 5, 7, 1}; !slices.Equal(dst, want) {
		t.Errorf("got %v, want %v", dst, want)
	}
	// unsorted input is sorted by value first
	stableOrder([]float32{3, 1, 2, 1}, []int64{0, 8, 5, 4}, dst[:4])
	if want := []int32{4, 8, 5, 0}; !slices.Equal(dst[:4], want) {
		t.Errorf("got %v, want %v", dst[:4], want)
	}
}
