package load

import "math"

// This file reproduces Pillow's resampling of 8-bit images (libImaging/Resample.c) with the
// bilinear (triangle) filter, which is what torchvision's Resize and RandomResizedCrop use
// on PIL images: a separable convolution whose support grows with the downscaling factor
// (so downscaling is antialiased), coefficients normalised in float64 and then rounded to
// 22-bit fixed point, a horizontal pass first, rounded to uint8, then a vertical pass.
// Reproducing the fixed-point steps gives results equal to Pillow's, byte for byte, on
// the same input pixels (checked against Pillow in resample_test.go).

const precisionBits = 32 - 8 - 2

// coeffs holds, for each output position of a window, the first input index and the
// fixed-point weights of the input run it reads.
type coeffs struct {
	ksize  int
	bounds []int // 2 per output: xmin, count
	k      []int32
}

func bilinearFilter(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return 1 - x
	}
	return 0
}

// precomputeCoeffs follows Pillow's precompute_coeffs + normalize_coeffs_8bpc for the
// input range [in0, in1) of an axis of inSize pixels mapped onto outSize pixels, for the
// output positions from..from+n-1 (index 0..n-1 in the result). Each position's weights
// depend only on the position, so a window's are exactly those of the full axis.
func precomputeCoeffs(inSize int, in0, in1 float64, outSize, from, n int) coeffs {
	const support0 = 1.0 // bilinear
	scale := (in1 - in0) / float64(outSize)
	filterscale := scale
	if filterscale < 1 {
		filterscale = 1
	}
	support := support0 * filterscale
	ksize := int(math.Ceil(support))*2 + 1
	c := coeffs{ksize: ksize, bounds: make([]int, 2*n), k: make([]int32, n*ksize)}
	w := make([]float64, ksize)
	ss := 1 / filterscale
	for i := 0; i < n; i++ {
		xx := from + i
		center := in0 + (float64(xx)+0.5)*scale
		// C's (int) conversion truncates toward zero.
		xmin := int(center - support + 0.5)
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		ww := 0.0
		for x := 0; x < xmax; x++ {
			w[x] = bilinearFilter((float64(x+xmin) - center + 0.5) * ss)
			ww += w[x]
		}
		for x := 0; x < xmax; x++ {
			v := w[x]
			if ww != 0 {
				v /= ww
			}
			if v < 0 {
				c.k[i*ksize+x] = int32(-0.5 + v*(1<<precisionBits))
			} else {
				c.k[i*ksize+x] = int32(0.5 + v*(1<<precisionBits))
			}
		}
		c.bounds[2*i], c.bounds[2*i+1] = xmin, xmax
	}
	return c
}

func clip8(v int32) uint8 {
	v >>= precisionBits
	return uint8(min(max(v, 0), 255))
}

// rgbView is a rectangle of an RGB (3 bytes per pixel) image: Pix[Off + y*Stride + 3*x + c].
type rgbView struct {
	Pix         []uint8
	Off, Stride int
	W, H        int
}

// resizeRGB resizes the view to ow x oh like Pillow's Image.resize(..., BILINEAR) on the
// cropped image the view describes, writing a tightly packed RGB image into dst (allocated
// when nil or too small) and returning it.
func resizeRGB(src rgbView, ow, oh int, dst []uint8) []uint8 {
	return resizeRGBWindow(src, ow, oh, 0, 0, ow, oh, dst)
}

// resizeRGBWindow computes the window [x0, x0+cw) x [y0, y0+ch) of resizeRGB(src, ow, oh)
// (the same bytes), working only on the rows and columns the window needs: a centre crop
// of an elongated image costs the crop, not the whole resized image.
func resizeRGBWindow(src rgbView, ow, oh, x0, y0, cw, ch int, dst []uint8) []uint8 {
	if cap(dst) < cw*ch*3 {
		dst = make([]uint8, cw*ch*3)
	}
	dst = dst[:cw*ch*3]
	needH := ow != src.W
	needV := oh != src.H
	if !needH && !needV {
		for y := 0; y < ch; y++ {
			copy(dst[y*cw*3:(y+1)*cw*3], src.Pix[src.Off+(y0+y)*src.Stride+3*x0:])
		}
		return dst
	}
	// Rows of the source the vertical pass reads (without one: the window's rows).
	yFirst, yLast := y0, y0+ch
	var cv coeffs
	if needV {
		cv = precomputeCoeffs(src.H, 0, float64(src.H), oh, y0, ch)
		yFirst = cv.bounds[0]
		yLast = cv.bounds[2*ch-2] + cv.bounds[2*ch-1]
	}
	tmp := src
	if needH {
		chh := precomputeCoeffs(src.W, 0, float64(src.W), ow, x0, cw)
		th := yLast - yFirst
		var buf []uint8
		if needV {
			buf = make([]uint8, cw*th*3)
		} else {
			buf = dst
		}
		for y := 0; y < th; y++ {
			row := src.Off + (y+yFirst)*src.Stride
			out := buf[y*cw*3:]
			for xx := 0; xx < cw; xx++ {
				xmin, n := chh.bounds[2*xx], chh.bounds[2*xx+1]
				k := chh.k[xx*chh.ksize : xx*chh.ksize+n]
				s0, s1, s2 := int32(1<<(precisionBits-1)), int32(1<<(precisionBits-1)), int32(1<<(precisionBits-1))
				p := src.Pix[row+3*xmin : row+3*(xmin+n)]
				for x, kx := range k {
					q := p[3*x : 3*x+3 : 3*x+3]
					s0 += int32(q[0]) * kx
					s1 += int32(q[1]) * kx
					s2 += int32(q[2]) * kx
				}
				out[3*xx], out[3*xx+1], out[3*xx+2] = clip8(s0), clip8(s1), clip8(s2)
			}
		}
		if !needV {
			return dst
		}
		tmp = rgbView{Pix: buf, Off: 0, Stride: cw * 3, W: cw, H: th}
	} else {
		tmp.Off += yFirst*tmp.Stride + 3*x0
		tmp.W, tmp.H = cw, yLast-yFirst
	}
	// Vertical pass, row at a time: the first tap initialises the accumulators and the
	// last one is fused with the rounding (integer sums, so the order of accumulation does
	// not change the result).
	const half = int32(1 << (precisionBits - 1))
	acc := make([]int32, cw*3)
	for yy := 0; yy < ch; yy++ {
		ymin, n := cv.bounds[2*yy]-yFirst, cv.bounds[2*yy+1]
		k := cv.k[yy*cv.ksize : yy*cv.ksize+n]
		out := dst[yy*cw*3 : (yy+1)*cw*3]
		rowAt := func(y int) []uint8 {
			r := tmp.Pix[tmp.Off+(ymin+y)*tmp.Stride:]
			return r[:len(out)]
		}
		if n == 1 {
			k0 := k[0]
			for i, v := range rowAt(0) {
				out[i] = clip8(half + int32(v)*k0)
			}
			continue
		}
		k0 := k[0]
		a := acc[:len(out)]
		for i, v := range rowAt(0) {
			a[i] = half + int32(v)*k0
		}
		for y := 1; y < n-1; y++ {
			ky := k[y]
			for i, v := range rowAt(y) {
				a[i] += int32(v) * ky
			}
		}
		kl := k[n-1]
		r := rowAt(n - 1)
		for i := range out {
			out[i] = clip8(a[i] + int32(r[i])*kl)
		}
	}
	return dst
}

// pyRound is Python 3's round() of a float to an int: half to even.
func pyRound(x float64) int { return int(math.RoundToEven(x)) }

// shortSideSize is torchvision Resize(base)'s output size for a w x h image: the shorter
// side becomes base, the longer int(base * long / short) (computed in float64 like Python).
func shortSideSize(w, h, base int) (int, int) {
	if w <= h {
		return base, int(float64(base) * float64(h) / float64(w))
	}
	return int(float64(base) * float64(w) / float64(h)), base
}

// resizeCenterCrop resizes the shorter side of an RGB image to base and centre-crops a
// base x base square, with torchvision CenterCrop's offsets round((H-base)/2),
// round((W-base)/2). The result is a packed base*base*3 HWC image. Only the cropped
// square is computed (resizeRGBWindow), so the cost and memory do not grow with the
// image's aspect ratio. The caller checks the sizes (checkResize).
func resizeCenterCrop(src rgbView, base int) []uint8 {
	rw, rh := shortSideSize(src.W, src.H, base)
	// torchvision skips the resize when the shorter side already equals base.
	if (src.W <= src.H && src.W == base) || (src.H <= src.W && src.H == base) {
		rw, rh = src.W, src.H
	}
	top := pyRound(float64(rh-base) / 2)
	left := pyRound(float64(rw-base) / 2)
	return resizeRGBWindow(src, rw, rh, left, top, base, base, nil)
}
