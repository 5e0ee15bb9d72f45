package load

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"os"
	"testing"
)

// jitterReference is written by testdata/gen_jitter_reference.py (Pillow 9.4, torchvision
// 0.14): torchvision's functional colour ops on a PIL image with fixed factors.
type jitterReference struct {
	W, H  int
	Input string
	Ops   []struct {
		Op     string
		Factor float64
		RGB    string
	}
	Jitter struct {
		Order                                 [4]int
		Brightness, Contrast, Saturation, Hue float64
		RGB                                   string
	}
}

func loadJitterRef(t *testing.T) (*jitterReference, []uint8) {
	t.Helper()
	b, err := os.ReadFile("testdata/jitter_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var r jitterReference
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	in, err := base64.StdEncoding.DecodeString(r.Input)
	if err != nil || len(in) != 3*r.W*r.H {
		t.Fatalf("input: %d bytes, %v", len(in), err)
	}
	return &r, in
}

func compareRGB(t *testing.T, what string, got []uint8, want64 string) {
	t.Helper()
	want, err := base64.StdEncoding.DecodeString(want64)
	if err != nil || len(want) != len(got) {
		t.Fatalf("%s: reference %d bytes, got %d (%v)", what, len(want), len(got), err)
	}
	bad := 0
	for i := range got {
		if got[i] != want[i] {
			if bad < 5 {
				t.Errorf("%s: byte %d (pixel %d channel %d) = %d, torchvision %d", what, i, i/3, i%3, got[i], want[i])
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d bytes differ", what, bad, len(got))
	}
}

// TestJitterMatchesTorchvision: each colour op, and one full ColorJitter with fixed order
// and factors, reproduce torchvision's PIL path byte for byte.
func TestJitterMatchesTorchvision(t *testing.T) {
	r, in := loadJitterRef(t)
	for _, op := range r.Ops {
		img := append([]uint8(nil), in...)
		switch op.Op {
		case "brightness":
			adjustBrightness(img, op.Factor)
		case "contrast":
			adjustContrast(img, op.Factor)
		case "saturation":
			adjustSaturation(img, op.Factor)
		case "hue":
			adjustHue(img, op.Factor)
		case "grayscale":
			grayscale(img)
		default:
			t.Fatalf("unknown op %q", op.Op)
		}
		compareRGB(t, op.Op+" "+ftoa(op.Factor), img, op.RGB)
	}
	j := r.Jitter
	img := append([]uint8(nil), in...)
	colorJitter(img, jitterParams{Order: j.Order, Brightness: j.Brightness, Contrast: j.Contrast, Saturation: j.Saturation, Hue: j.Hue})
	compareRGB(t, "ColorJitter", img, j.RGB)
}

func ftoa(f float64) string { b, _ := json.Marshal(f); return string(b) }

// TestAdvAugmentation: "adv" batches are reproducible and independent of the worker count;
// about 20% of samples come out grey (RandomGrayscale(0.2); jitter keeps a grey image
// grey), the rest keep colour; ColorJitter's draws follow torchvision's distributions
// (every one of the 24 orders, factors uniform in [0.8, 1.2], hue in [-0.2, 0.2]).
func TestAdvAugmentation(t *testing.T) {
	base, crop, n := 16, 12, 4
	imgs := make([]uint8, n*base*base*3)
	for i := 0; i < len(imgs); i += 3 { // saturated colours: no pixel is grey
		imgs[i], imgs[i+1], imgs[i+2] = uint8(200+i%50), uint8(i%90), uint8(100+(i/3)%60)
	}
	s := &Split{Protocol: Protocol{Base: base, Crop: crop, Mean: [3]float64{0, 0, 0}, Std: [3]float64{1, 1, 1}},
		images: [][]uint8{imgs}, starts: []int{0}, labels: make([]int64, n)}
	idx := make([]int, 250)
	for i := range idx {
		idx[i] = i % n
	}
	defer func() { batchWorkers = 0 }()
	grey, total := 0, 0
	for b := 0; b < 8; b++ {
		aug := Augmenter{Seed: 3, Epoch: 1, Batch: b, Mode: "adv"}
		batchWorkers = 1
		x, shape := s.TrainBatch(idx, aug)
		batchWorkers = 4
		y, _ := s.TrainBatch(idx, aug)
		if shape != [4]int64{250, 3, 12, 12} || !equalF32(x, y) {
			t.Fatal("adv batch depends on the worker count")
		}
		plain, _ := s.TrainBatch(idx, Augmenter{Seed: 3, Epoch: 1, Batch: b})
		if equalF32(x, plain) {
			t.Fatal("adv batch equals the base batch")
		}
		hw := crop * crop
		for i := range idx {
			v := x[i*3*hw : (i+1)*3*hw]
			isGrey := true
			for p := 0; p < hw; p++ {
				if v[p] != v[hw+p] || v[p] != v[2*hw+p] {
					isGrey = false
					break
				}
			}
			if isGrey {
				grey++
			}
			total++
		}
	}
	// 2000 samples: sd of the rate about 0.009.
	if f := float64(grey) / float64(total); f < 0.17 || f > 0.23 {
		t.Errorf("grey rate %.3f, RandomGrayscale p = 0.2", f)
	}

	orders := map[[4]int]int{}
	var sums, sq [4]float64
	const m = 24000
	for i := 0; i < m; i++ {
		p := drawJitter(Augmenter{Seed: 9, Batch: i}.rng(0), 0.2, 0.2, 0.2, 0.2)
		orders[p.Order]++
		for k, v := range []float64{p.Brightness, p.Contrast, p.Saturation, p.Hue} {
			lo, hi := 0.8, 1.2
			if k == 3 {
				lo, hi = -0.2, 0.2
			}
			if v < lo || v >= hi {
				t.Fatalf("factor %d = %v outside [%v, %v)", k, v, lo, hi)
			}
			sums[k] += v
			sq[k] += v * v
		}
	}
	if len(orders) != 24 {
		t.Fatalf("%d distinct orders, want 24", len(orders))
	}
	for o, c := range orders {
		if c < 800 || c > 1200 { // expected 1000, sd 31
			t.Errorf("order %v drawn %d times of %d", o, c, m)
		}
	}
	for k, want := range []float64{1, 1, 1, 0} {
		mean := sums[k] / m
		vr := sq[k]/m - mean*mean
		// U(a, a+0.4): variance 0.4²/12; standard error of the mean 0.0007.
		if math.Abs(mean-want) > 0.004 || math.Abs(vr-0.16/12) > 0.0008 {
			t.Errorf("factor %d: mean %.4f variance %.5f, want %v and %.5f", k, mean, vr, want, 0.16/12)
		}
	}
}

func equalF32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
