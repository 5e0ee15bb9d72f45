package load

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
)

// Augmenter selects the train-time augmentation of one batch and seeds it. Every sample
// gets its own random stream derived from (Seed, Epoch, Batch, position in the batch), so
// a batch's result does not depend on how many goroutines compute it, nor on the other
// batches. The streams are not torch's (the original's DataLoader-worker streams are not
// reproducible anyway, reference-method §13 level 3): results match the original in
// distribution, not bit for bit.
type Augmenter struct {
	Seed  int64
	Epoch int
	Batch int
	// Mode is the original's --augmentation: "base" (or "") = RandomResizedCrop(crop,
	// scale (0.08, 1), ratio (3/4, 4/3)) + horizontal flip p=0.5; "red" = RandomCrop(crop)
	// + flip; "adv" = the base crop, RandomGrayscale(p=0.2), ColorJitter(0.2, 0.2, 0.2,
	// 0.2) (brightness, contrast and saturation factors uniform in [0.8, 1.2], hue shift
	// uniform in [-0.2, 0.2], applied in a random order, with torchvision's PIL semantics:
	// jitter.go) + flip. All work on the stored base x base image, i.e. after
	// Resize(base) and a centre square crop, where the original crops the full decoded
	// image; for non-square photos the regions near the long sides are never seen (a
	// documented difference). The original's "big" is "base" with crop 256, which is the
	// dataset's protocol here (set crop = 256 in the dataset block); stages/train maps it.
	Mode string
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// sampleRNG is a small deterministic generator: PCG-DXSM (math/rand/v2's PCG, a fixed
// algorithm) with our own conversions to floats and ranges, so results do not depend on
// library helpers that could change.
type sampleRNG struct{ p *rand.PCG }

func (a Augmenter) rng(pos int) sampleRNG {
	s1 := splitmix(splitmix(uint64(a.Seed)) ^ uint64(a.Epoch))
	s2 := splitmix(splitmix(uint64(a.Batch)) ^ uint64(pos)<<1 ^ 0x5851f42d4c957f2d)
	return sampleRNG{rand.NewPCG(s1, s2)}
}

// uniform returns a float64 in [lo, hi).
func (r sampleRNG) uniform(lo, hi float64) float64 {
	u := float64(r.p.Uint64()>>11) / (1 << 53)
	return lo + u*(hi-lo)
}

// intn returns an int in [0, n) without modulo bias.
func (r sampleRNG) intn(n int) int {
	if n <= 1 {
		return 0
	}
	lim := math.MaxUint64 - math.MaxUint64%uint64(n)
	for {
		v := r.p.Uint64()
		if v < lim {
			return int(v % uint64(n))
		}
	}
}

// randomResizedCropParams is torchvision's RandomResizedCrop.get_params for a w x h
// image: up to 10 attempts with area fraction U(scale) and log-uniform aspect ratio, then
// the centre crop clamped to the ratio range. It returns top, left, height, width.
func randomResizedCropParams(r sampleRNG, w, h int, scale, ratio [2]float64) (int, int, int, int) {
	area := float64(w * h)
	lr0, lr1 := math.Log(ratio[0]), math.Log(ratio[1])
	for attempt := 0; attempt < 10; attempt++ {
		target := area * r.uniform(scale[0], scale[1])
		ar := math.Exp(r.uniform(lr0, lr1))
		cw := pyRound(math.Sqrt(target * ar))
		ch := pyRound(math.Sqrt(target / ar))
		if cw > 0 && cw <= w && ch > 0 && ch <= h {
			top := r.intn(h - ch + 1)
			left := r.intn(w - cw + 1)
			return top, left, ch, cw
		}
	}
	in := float64(w) / float64(h)
	cw, ch := w, h
	switch {
	case in < ratio[0]:
		ch = pyRound(float64(cw) / ratio[0])
	case in > ratio[1]:
		cw = pyRound(float64(ch) * ratio[1])
	}
	return (h - ch) / 2, (w - cw) / 2, ch, cw
}

// normalizeInto writes a crop x crop RGB image (packed HWC) into dst (3*crop*crop, CHW)
// as ToTensor + Normalize (+ BGR reversal) do, in float32 like torchvision.
func normalizeInto(dst []float32, img []uint8, crop int, pr Protocol, flip bool) {
	normalizeRows(dst, img, 3*crop, crop, pr, flip)
}

// normalizeRows is normalizeInto for a crop x crop window whose rows start stride bytes
// apart in img (row y at img[y*stride:]), so a centre crop is read in place from the
// stored image instead of being copied out first.
func normalizeRows(dst []float32, img []uint8, stride, crop int, pr Protocol, flip bool) {
	// Each output value depends only on the byte and its channel, so a 256-entry table per
	// channel, filled with the very same float32 expression, gives bit-identical results
	// without a division per value.
	var lut [3][256]float32
	for c := 0; c < 3; c++ {
		mean, std := float32(pr.Mean[c]), float32(pr.Std[c])
		for v := 0; v < 256; v++ {
			lut[c][v] = (float32(v)/255 - mean) / std
		}
	}
	hw := crop * crop
	for c := 0; c < 3; c++ {
		oc := c
		if pr.BGR {
			oc = 2 - c
		}
		t := &lut[c]
		plane := dst[oc*hw : (oc+1)*hw]
		for y := 0; y < crop; y++ {
			row := img[y*stride : y*stride+3*crop]
			out := plane[y*crop : (y+1)*crop]
			if flip {
				for x := range out {
					out[x] = t[row[3*(crop-1-x)+c]]
				}
			} else {
				for x := range out {
					out[x] = t[row[3*x+c]]
				}
			}
		}
	}
}

// batchWorkers caps the goroutines per batch (0 = NumCPU); tests vary it to show that
// results do not depend on it.
var batchWorkers = 0

// parallel runs f(i) for i in [0, n) on up to NumCPU goroutines.
func parallel(n int, f func(i int)) { parallelOn(n, 0, f) }

// parallelOn is parallel on up to workers goroutines (< 1: NumCPU). batchWorkers, when
// set, overrides either.
func parallelOn(n, workers int, f func(i int)) {
	w := runtime.NumCPU()
	if workers > 0 {
		w = workers
	}
	if batchWorkers > 0 {
		w = batchWorkers
	}
	w = min(n, w)
	if w <= 1 {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	next := make(chan int, n)
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	for k := 0; k < w; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	wg.Wait()
}

// EvalBatch returns images idx as a normalised NCHW float32 batch of centre crops
// (offsets round((base-crop)/2), half to even, like torchvision CenterCrop). It panics on
// an index out of range (caller bug).
func (s *Split) EvalBatch(idx []int) ([]float32, [4]int64) { return s.EvalBatchInto(nil, idx) }

// EvalBatchInto is EvalBatch writing into dst's memory: it returns dst[:len(idx)*3*crop*crop]
// (a new slice when dst's capacity is smaller) with every element written, so a caller
// that runs many batches can hand the previous result back instead of allocating one per
// batch. The result aliases dst.
func (s *Split) EvalBatchInto(dst []float32, idx []int) ([]float32, [4]int64) {
	pr := s.Protocol
	crop, base := pr.Crop, pr.Base
	off := pyRound(float64(base-crop) / 2)
	n := 3 * crop * crop
	out := growFloat32(dst, len(idx)*n)
	parallel(len(idx), func(i int) {
		img := s.Image(idx[i])
		normalizeRows(out[i*n:(i+1)*n], img[off*base*3+off*3:], base*3, crop, pr, false)
	})
	return out, [4]int64{int64(len(idx)), 3, int64(crop), int64(crop)}
}

// growFloat32 returns dst[:n], or a new slice of n when dst is too small. The contents are
// not cleared: the batch functions overwrite every element.
func growFloat32(dst []float32, n int) []float32 {
	if cap(dst) < n {
		return make([]float32, n)
	}
	return dst[:n]
}

// TrainBatch returns images idx augmented per aug (see Augmenter) as a normalised NCHW
// float32 batch. The same (aug, idx) always gives the same batch. It panics on an index
// out of range or an unknown Mode (caller bugs). It only reads the split, so batches may
// be assembled on several goroutines at once (stages/train prefetches the next one while
// a step runs).
func (s *Split) TrainBatch(idx []int, aug Augmenter) ([]float32, [4]int64) {
	return s.TrainBatchInto(nil, idx, aug, 0)
}

// TrainBatchInto is TrainBatch writing into dst's memory, as EvalBatchInto does (the
// result is dst[:len(idx)*3*crop*crop], new when dst is too small, every element
// written), on up to workers goroutines (< 1: one per CPU, as TrainBatch). The result
// does not depend on workers; a caller that assembles a batch while other work uses some
// cores gives it the cores left.
func (s *Split) TrainBatchInto(dst []float32, idx []int, aug Augmenter, workers int) ([]float32, [4]int64) {
	pr := s.Protocol
	crop, base := pr.Crop, pr.Base
	n := 3 * crop * crop
	switch aug.Mode {
	case "", "base", "red", "adv":
	default:
		panic(fmt.Sprintf("load: unknown augmentation mode %q (caller bug)", aug.Mode))
	}
	out := growFloat32(dst, len(idx)*n)
	parallelOn(len(idx), workers, func(i int) {
		r := aug.rng(i)
		img := s.Image(idx[i])
		full := rgbView{Pix: img, Stride: base * 3, W: base, H: base}
		var buf []uint8
		if aug.Mode == "red" {
			top, left := r.intn(base-crop+1), r.intn(base-crop+1)
			buf = make([]uint8, 3*crop*crop)
			for y := 0; y < crop; y++ {
				copy(buf[y*crop*3:(y+1)*crop*3], img[(top+y)*base*3+left*3:])
			}
		} else {
			top, left, h, w := randomResizedCropParams(r, base, base, [2]float64{0.08, 1}, [2]float64{3.0 / 4, 4.0 / 3})
			v := full
			v.Off, v.W, v.H = top*full.Stride+3*left, w, h
			buf = resizeRGB(v, crop, crop, nil)
		}
		if aug.Mode == "adv" {
			// The original's order: RandomResizedCrop, RandomGrayscale(0.2),
			// ColorJitter(0.2, 0.2, 0.2, 0.2), then the flip below.
			if r.uniform(0, 1) < 0.2 {
				grayscale(buf)
			}
			colorJitter(buf, drawJitter(r, 0.2, 0.2, 0.2, 0.2))
		}
		flip := r.uniform(0, 1) < 0.5
		normalizeInto(out[i*n:(i+1)*n], buf, crop, pr, flip)
	})
	return out, [4]int64{int64(len(idx)), 3, int64(crop), int64(crop)}
}
