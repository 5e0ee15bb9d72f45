package load

import (
	"math/rand/v2"
	"testing"
)

// normalizeInto's table must give exactly (v/255 - mean)/std in float32 for every pixel,
// in CHW order, with the horizontal flip and the BGR reversal.
func TestNormalizeIntoMatchesTheFormula(t *testing.T) {
	const crop = 7
	r := rand.New(rand.NewPCG(1, 2))
	img := make([]uint8, crop*crop*3)
	for i := range img {
		img[i] = uint8(r.IntN(256))
	}
	pr := Protocol{Mean: ResNetMean, Std: ResNetStd}
	for _, flip := range []bool{false, true} {
		for _, bgr := range []bool{false, true} {
			pr.BGR = bgr
			got := make([]float32, 3*crop*crop)
			normalizeInto(got, img, crop, pr, flip)
			for c := 0; c < 3; c++ {
				oc := c
				if bgr {
					oc = 2 - c
				}
				for y := 0; y < crop; y++ {
					for x := 0; x < crop; x++ {
						sx := x
						if flip {
							sx = crop - 1 - x
						}
						v := img[3*(y*crop+sx)+c]
						want := (float32(v)/255 - float32(pr.Mean[c])) / float32(pr.Std[c])
						if g := got[oc*crop*crop+y*crop+x]; g != want {
							t.Fatalf("flip %v bgr %v: c %d (%d,%d) = %v, want %v", flip, bgr, c, y, x, g, want)
						}
					}
				}
			}
		}
	}
}
