package load

import (
	"math"
	"reflect"
	"testing"
)

// gradientSplit is a split of n base x base images with distinct, non-uniform pixels.
func gradientSplit(n, base, crop int) *Split {
	imgs := make([]uint8, n*base*base*3)
	for i := range imgs {
		imgs[i] = uint8((i * 7919) % 251)
	}
	return &Split{Protocol: Protocol{Base: base, Crop: crop, Mean: ResNetMean, Std: ResNetStd},
		images: [][]uint8{imgs}, starts: []int{0}, labels: make([]int64, n)}
}

// The Into variants write every element of a reused buffer (filled with NaN here, as a
// previous batch's leftovers would be) and give exactly the freshly allocated batch; a
// buffer with room is reused, a smaller one replaced.
func TestBatchIntoReusesAndOverwrites(t *testing.T) {
	s := gradientSplit(6, 32, 24)
	idx := []int{0, 3, 5, 1, 1, 2, 4, 0}
	n := len(idx) * 3 * 24 * 24
	dirty := func(k int) []float32 {
		b := make([]float32, k)
		for i := range b {
			b[i] = float32(math.NaN())
		}
		return b
	}
	for _, mode := range []string{"base", "red", "adv"} {
		aug := Augmenter{Seed: 7, Epoch: 2, Batch: 11, Mode: mode}
		want, wshape := s.TrainBatch(idx, aug)
		for _, workers := range []int{0, 1, 3} {
			buf := dirty(n + 5)
			got, shape := s.TrainBatchInto(buf, idx, aug, workers)
			if shape != wshape || !reflect.DeepEqual(got, want) {
				t.Fatalf("%s, %d workers: TrainBatchInto differs from TrainBatch", mode, workers)
			}
			if &got[0] != &buf[0] {
				t.Fatalf("%s: TrainBatchInto did not reuse a buffer with room", mode)
			}
		}
		small := dirty(n - 1)
		if got, _ := s.TrainBatchInto(small, idx, aug, 0); len(got) != n || &got[0] == &small[0] || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: TrainBatchInto with a small buffer", mode)
		}
	}
	want, wshape := s.EvalBatch(idx)
	buf := dirty(n)
	if got, shape := s.EvalBatchInto(buf, idx); shape != wshape || !reflect.DeepEqual(got, want) || &got[0] != &buf[0] {
		t.Fatal("EvalBatchInto differs from EvalBatch or did not reuse the buffer")
	}
}

// EvalBatch reads the centre crop in place (normalizeRows with the stored image's
// stride); it must give what copying the crop out and normalising it gave before.
func TestEvalBatchInPlaceCropMatchesCopy(t *testing.T) {
	for _, c := range []struct{ base, crop int }{{32, 24}, {31, 24}, {8, 8}, {36, 32}} {
		s := gradientSplit(3, c.base, c.crop)
		for _, bgr := range []bool{false, true} {
			s.Protocol.BGR = bgr
			got, _ := s.EvalBatch([]int{2, 0, 1})
			off := pyRound(float64(c.base-c.crop) / 2)
			n := 3 * c.crop * c.crop
			for i, j := range []int{2, 0, 1} {
				img := s.Image(j)
				crop := make([]uint8, n)
				for y := 0; y < c.crop; y++ {
					copy(crop[y*c.crop*3:(y+1)*c.crop*3], img[(off+y)*c.base*3+off*3:])
				}
				want := make([]float32, n)
				normalizeInto(want, crop, c.crop, s.Protocol, false)
				if !reflect.DeepEqual(got[i*n:(i+1)*n], want) {
					t.Fatalf("base %d crop %d bgr %v: image %d differs from the copied crop", c.base, c.crop, bgr, j)
				}
			}
		}
	}
}
