package load

import "math"

// The "adv" augmentation's colour operations, ported from what torchvision 0.14 runs on
// PIL images (the original's pipeline is PIL until ToTensor): F.rgb_to_grayscale,
// F.adjust_brightness / contrast / saturation (PIL ImageEnhance, i.e. Image.blend of a
// degenerate image and the image) and F.adjust_hue (PIL's HSV conversion with the hue
// byte shifted by uint8(hue*255)). Every function works in place on packed RGB bytes and
// reproduces Pillow 9.4's integer and float32 steps (checked against
// testdata/jitter_reference.json, written by testdata/gen_jitter_reference.py).

// jitterParams is one ColorJitter draw: the order of the four operations (a permutation
// of 0 brightness, 1 contrast, 2 saturation, 3 hue) and their factors.
type jitterParams struct {
	Order                                 [4]int
	Brightness, Contrast, Saturation, Hue float64
}

// drawJitter is ColorJitter(b, c, s, h).get_params: a random order (torch.randperm(4)),
// then factors uniform in [1-b, 1+b], [1-c, 1+c], [1-s, 1+s] and [-h, h].
func drawJitter(r sampleRNG, b, c, s, h float64) jitterParams {
	p := jitterParams{Order: [4]int{0, 1, 2, 3}}
	for i := 3; i > 0; i-- { // Fisher-Yates
		j := r.intn(i + 1)
		p.Order[i], p.Order[j] = p.Order[j], p.Order[i]
	}
	p.Brightness = r.uniform(1-b, 1+b)
	p.Contrast = r.uniform(1-c, 1+c)
	p.Saturation = r.uniform(1-s, 1+s)
	p.Hue = r.uniform(-h, h)
	return p
}

// colorJitter applies p to img (packed RGB) in p.Order.
func colorJitter(img []uint8, p jitterParams) {
	for _, op := range p.Order {
		switch op {
		case 0:
			adjustBrightness(img, p.Brightness)
		case 1:
			adjustContrast(img, p.Contrast)
		case 2:
			adjustSaturation(img, p.Saturation)
		case 3:
			adjustHue(img, p.Hue)
		}
	}
}

// pilLuma is Pillow's RGB -> L conversion: (r*19595 + g*38470 + b*7471 + 0x8000) >> 16.
func pilLuma(r, g, b uint8) uint8 {
	return uint8((uint32(r)*19595 + uint32(g)*38470 + uint32(b)*7471 + 0x8000) >> 16)
}

// grayscale is F.rgb_to_grayscale(img, num_output_channels=3) on a PIL image: L
// replicated into three channels.
func grayscale(img []uint8) {
	for i := 0; i+2 < len(img); i += 3 {
		l := pilLuma(img[i], img[i+1], img[i+2])
		img[i], img[i+1], img[i+2] = l, l, l
	}
}

// blend is Pillow's ImagingBlend(deg, img, alpha) for one byte: float32 arithmetic, a
// truncating cast, and clipping only when alpha is outside [0, 1] (inside, the result
// cannot leave [0, 255]).
func blend(deg, v uint8, alpha float32) uint8 {
	t := float32(int32(deg)) + alpha*float32(int32(v)-int32(deg))
	if alpha >= 0 && alpha <= 1 {
		return uint8(t)
	}
	switch {
	case t <= 0:
		return 0
	case t >= 255:
		return 255
	}
	return uint8(t)
}

// adjustBrightness is ImageEnhance.Brightness: blend with black.
func adjustBrightness(img []uint8, f float64) {
	a := float32(f)
	for i := range img {
		img[i] = blend(0, img[i], a)
	}
}

// adjustContrast is ImageEnhance.Contrast: blend with a flat grey of the image's mean
// luma, int(mean + 0.5).
func adjustContrast(img []uint8, f float64) {
	var sum float64
	n := len(img) / 3
	for i := 0; i < n; i++ {
		sum += float64(pilLuma(img[3*i], img[3*i+1], img[3*i+2]))
	}
	mean := uint8(int(sum/float64(n) + 0.5))
	a := float32(f)
	for i := range img {
		img[i] = blend(mean, img[i], a)
	}
}

// adjustSaturation is ImageEnhance.Color: blend with the image's own greyscale.
func adjustSaturation(img []uint8, f float64) {
	a := float32(f)
	for i := 0; i+2 < len(img); i += 3 {
		l := pilLuma(img[i], img[i+1], img[i+2])
		img[i] = blend(l, img[i], a)
		img[i+1] = blend(l, img[i+1], a)
		img[i+2] = blend(l, img[i+2], a)
	}
}

// adjustHue is torchvision's F_pil.adjust_hue: convert to PIL HSV, add
// np.uint8(hue*255) to the hue byte (wrapping), convert back.
func adjustHue(img []uint8, hue float64) {
	// np.uint8 of a negative float goes through a C integer cast: truncate toward zero,
	// then wrap modulo 256.
	shift := uint8(int64(hue * 255))
	for i := 0; i+2 < len(img); i += 3 {
		h, s, v := rgbToHSV(img[i], img[i+1], img[i+2])
		img[i], img[i+1], img[i+2] = hsvToRGB(h+shift, s, v)
	}
}

// rgbToHSV is Pillow's rgb2hsv (Convert.c), with its mix of float and double steps.
func rgbToHSV(r, g, b uint8) (uint8, uint8, uint8) {
	maxc := max(r, g, b)
	minc := min(r, g, b)
	if minc == maxc {
		return 0, 0, maxc
	}
	cr := float32(maxc - minc)
	s := cr / float32(maxc)
	rc := float32(maxc-r) / cr
	gc := float32(maxc-g) / cr
	bc := float32(maxc-b) / cr
	var h float32
	switch {
	case r == maxc:
		h = bc - gc
	case g == maxc:
		h = float32(2.0 + float64(rc) - float64(bc))
	default:
		h = float32(4.0 + float64(gc) - float64(rc))
	}
	h = float32(math.Mod(float64(h)/6.0+1.0, 1.0))
	return clipByte(int(float64(h) * 255.0)), clipByte(int(float64(s) * 255.0)), maxc
}

// hsvToRGB is Pillow's hsv2rgb (Convert.c).
func hsvToRGB(h, s, v uint8) (uint8, uint8, uint8) {
	if s == 0 {
		return v, v, v
	}
	hh := float64(float32(h)) * 6.0 / 255.0
	i := int(math.Floor(hh))
	f := float32(hh - float64(i))
	fs := float32(float64(float32(s)) / 255.0)
	fv := float64(float32(v))
	p := clipByte(int(math.Round(fv * (1.0 - float64(fs)))))
	q := clipByte(int(math.Round(fv * (1.0 - float64(fs)*float64(f)))))
	t := clipByte(int(math.Round(fv * (1.0 - float64(fs)*(1.0-float64(f))))))
	switch i % 6 {
	case 0:
		return v, t, p
	case 1:
		return q, v, p
	case 2:
		return p, v, t
	case 3:
		return p, q, v
	case 4:
		return t, p, v
	}
	return v, p, q
}

// clipByte is Pillow's CLIP8 on an int (no fixed-point shift, unlike resample's clip8).
func clipByte(x int) uint8 { return uint8(min(max(x, 0), 255)) }
