package load

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/bmp"
	"golang.org/x/image/webp"
)

// decodeRGB decodes a JPEG, PNG, GIF, BMP or WebP file and converts it to packed RGB the
// way PIL's Image.open(...).convert('RGB') does:
//   - greyscale is replicated to three channels; palette images use their palette;
//   - alpha is dropped, not composited (RGBA -> the stored RGB values);
//   - CMYK uses PIL's cmyk2rgb (r = 255-k - c*(255-k)/255, rounded like MULDIV255);
//   - 16-bit channels keep their high byte, except 16-bit greyscale, which PIL opens as
//     mode "I" and clips to 0..255 on conversion;
//   - YCbCr JPEGs use libjpeg's "fancy" (triangle) chroma upsampling and its fixed-point
//     YCbCr->RGB tables. The inverse DCT is Go's, not libjpeg's islow, so JPEG pixels may
//     differ from PIL's by a level or two (see resample_test.go for measured bounds).
//
// If white is true, alpha is composited over white instead (used for the emoji sets).
// An image whose header declares more than maxPix pixels is refused before it is decoded.
func decodeRGB(data []byte, white bool, maxPix int64) (pix []uint8, w, h int, err error) {
	img, format, err := decodeImage(data, maxPix)
	if err != nil {
		return nil, 0, 0, err
	}
	b := img.Bounds()
	w, h = b.Dx(), b.Dy()
	if w <= 0 || h <= 0 {
		return nil, 0, 0, fmt.Errorf("empty %s image", format)
	}
	pix = make([]uint8, w*h*3)
	switch m := img.(type) {
	case *image.YCbCr:
		ycbcrToRGB(m, pix)
		return pix, w, h, nil
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			o := pix[y*w*3:]
			for x, v := range row {
				o[3*x], o[3*x+1], o[3*x+2] = v, v, v
			}
		}
		return pix, w, h, nil
	case *image.Gray16:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				i := y*m.Stride + 2*x
				v := int(m.Pix[i])<<8 | int(m.Pix[i+1])
				if v > 255 {
					v = 255
				}
				o := 3 * (y*w + x)
				pix[o], pix[o+1], pix[o+2] = uint8(v), uint8(v), uint8(v)
			}
		}
		return pix, w, h, nil
	case *image.CMYK:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				i := y*m.Stride + 4*x
				nk := 255 - int(m.Pix[i+3])
				o := 3 * (y*w + x)
				for c := 0; c < 3; c++ {
					v := nk - muldiv255(int(m.Pix[i+c]), nk)
					pix[o+c] = clampU8(v)
				}
			}
		}
		return pix, w, h, nil
	}
	if m, ok := img.(*image.NRGBA); ok {
		// Non-premultiplied RGBA (PNG RGBA and grey+alpha): PIL keeps the stored RGB even
		// where alpha is 0, so read it directly instead of through premultiplied colours.
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				i := y*m.Stride + 4*x
				o := 3 * (y*w + x)
				copy(pix[o:o+3], m.Pix[i:i+3])
				if white {
					a := int(m.Pix[i+3])
					for c := 0; c < 3; c++ {
						pix[o+c] = overWhite(pix[o+c], a)
					}
				}
			}
		}
		return pix, w, h, nil
	}
	if m, ok := img.(*image.RGBA); ok {
		// Premultiplied RGBA: Go's PNG decoder returns it for opaque truecolour images;
		// translucent pixels (other sources) are un-premultiplied first.
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				i := y*m.Stride + 4*x
				o := 3 * (y*w + x)
				a := int(m.Pix[i+3])
				for c := 0; c < 3; c++ {
					v := m.Pix[i+c]
					if a != 255 && a != 0 {
						v = uint8((int(v)*255 + a/2) / a)
					}
					if white {
						v = overWhite(v, a)
					}
					pix[o+c] = v
				}
			}
		}
		return pix, w, h, nil
	}
	if m, ok := img.(*image.Paletted); ok {
		// PIL keeps the palette's colour for transparent entries (Go's colour model would
		// zero it), so read each entry's stored RGB and alpha once.
		var lut [256][4]uint8
		for k, c := range m.Palette {
			if nc, ok := c.(color.NRGBA); ok {
				lut[k] = [4]uint8{nc.R, nc.G, nc.B, nc.A}
				continue
			}
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			lut[k] = [4]uint8{n.R, n.G, n.B, n.A}
		}
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				e := lut[m.Pix[y*m.Stride+x]]
				o := 3 * (y*w + x)
				for c := 0; c < 3; c++ {
					v := e[c]
					if white {
						v = overWhite(v, int(e[3]))
					}
					pix[o+c] = v
				}
			}
		}
		return pix, w, h, nil
	}
	if m, ok := img.(*image.NRGBA64); ok {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				i := y*m.Stride + 8*x
				o := 3 * (y*w + x)
				pix[o], pix[o+1], pix[o+2] = m.Pix[i], m.Pix[i+2], m.Pix[i+4]
				if white {
					a := int(m.Pix[i+6])
					for c := 0; c < 3; c++ {
						pix[o+c] = overWhite(pix[o+c], a)
					}
				}
			}
		}
		return pix, w, h, nil
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			n := color.NRGBA64Model.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
			if p, ok := img.(*image.Paletted); ok {
				// PIL keeps the palette's colour for transparent entries; Go's NRGBA64 of a
				// fully transparent colour is zero, so read the palette entry's own RGB.
				c := p.Palette[p.ColorIndexAt(b.Min.X+x, b.Min.Y+y)]
				if nc, ok := c.(color.NRGBA); ok {
					n = color.NRGBA64{uint16(nc.R) * 0x101, uint16(nc.G) * 0x101, uint16(nc.B) * 0x101, uint16(nc.A) * 0x101}
				}
			}
			o := 3 * (y*w + x)
			r, g, bb := uint8(n.R>>8), uint8(n.G>>8), uint8(n.B>>8)
			if white {
				a := int(n.A >> 8)
				r, g, bb = overWhite(r, a), overWhite(g, a), overWhite(bb, a)
			}
			pix[o], pix[o+1], pix[o+2] = r, g, bb
		}
	}
	return pix, w, h, nil
}

// maxPixels mirrors Pillow's decompression-bomb limit (2 * Image.MAX_IMAGE_PIXELS), above
// which PIL refuses to open an image; checking the header first keeps a hostile or corrupt
// file from allocating gigabytes.
const maxPixels = 2 * 89478485

// decodeImage decodes one image of a format it recognises by its leading bytes. The
// format's header is read first (DecodeConfig): an image without a readable header, or
// one declaring more than maxPix pixels, is refused before any pixel memory is allocated.
func decodeImage(data []byte, maxPix int64) (image.Image, string, error) {
	var format string
	var config func(io.Reader) (image.Config, error)
	var decode func(io.Reader) (image.Image, error)
	switch {
	case bytes.HasPrefix(data, []byte("\xff\xd8")):
		format, config, decode = "jpeg", jpeg.DecodeConfig, jpeg.Decode
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		format, config, decode = "png", png.DecodeConfig, png.Decode
	case bytes.HasPrefix(data, []byte("GIF8")):
		format, config, decode = "gif", gif.DecodeConfig, gif.Decode // Decode: first frame only
	case bytes.HasPrefix(data, []byte("BM")):
		format, config, decode = "bmp", bmp.DecodeConfig, bmp.Decode
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		format, config, decode = "webp", webp.DecodeConfig, webp.Decode
	default:
		return nil, "", fmt.Errorf("unknown image format (not JPEG, PNG, GIF, BMP or WebP)")
	}
	cfg, err := config(bytes.NewReader(data))
	if err != nil {
		return nil, format, fmt.Errorf("decoding %s header: %w", format, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, format, fmt.Errorf("%s image of %dx%d pixels is empty", format, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > maxPix {
		return nil, format, fmt.Errorf("%s image of %dx%d pixels exceeds the %d-pixel limit (a decompression bomb to PIL)",
			format, cfg.Width, cfg.Height, maxPix)
	}
	m, err := decode(bytes.NewReader(data))
	return m, format, wrapDecode(format, err)
}

func wrapDecode(format string, err error) error {
	if err != nil {
		return fmt.Errorf("decoding %s: %w", format, err)
	}
	return nil
}

// overWhite composites a channel value v with alpha a (0..255) over white, rounded:
// (v*a + 255*(255-a)) / 255, the result of PIL's Image.alpha_composite onto white.
func overWhite(v uint8, a int) uint8 {
	t := int(v)*a + 255*(255-a) + 128
	return uint8(((t >> 8) + t) >> 8)
}

// muldiv255 is PIL's MULDIV255(a, b): a*b/255 rounded.
func muldiv255(a, b int) int {
	t := a*b + 128
	return ((t >> 8) + t) >> 8
}

func clampU8(v int) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// libjpeg's YCbCr -> RGB tables (jdcolor.c build_ycc_rgb_table), 16-bit fixed point.
var crR, cbB, crG, cbG [256]int32

func init() {
	const scale = 16
	const half = 1 << (scale - 1)
	fix := func(x float64) int32 { return int32(x*(1<<scale) + 0.5) }
	for i := 0; i < 256; i++ {
		x := int32(i - 128)
		crR[i] = (fix(1.40200)*x + half) >> scale
		cbB[i] = (fix(1.77200)*x + half) >> scale
		crG[i] = -fix(0.71414) * x
		cbG[i] = -fix(0.34414)*x + half
	}
}

// ycbcrToRGB converts a decoded JPEG to RGB like libjpeg(-turbo) with its defaults
// (do_fancy_upsampling): chroma is upsampled with jdsample.c's triangle filters for 4:2:0
// and 4:2:2 (edges replicate the last real chroma sample), other ratios by replication.
func ycbcrToRGB(m *image.YCbCr, pix []uint8) {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	cb := make([]uint8, w*h)
	cr := make([]uint8, w*h)
	upsample(m, m.Cb, cb)
	upsample(m, m.Cr, cr)
	for y := 0; y < h; y++ {
		yrow := m.Y[m.YOffset(b.Min.X, b.Min.Y+y)-0:]
		for x := 0; x < w; x++ {
			yy := int32(yrow[x])
			i := y*w + x
			o := 3 * i
			pix[o] = clampU8(int(yy + crR[cr[i]]))
			pix[o+1] = clampU8(int(yy + ((cbG[cb[i]] + crG[cr[i]]) >> 16)))
			pix[o+2] = clampU8(int(yy + cbB[cb[i]]))
		}
	}
}

// upsample expands one chroma plane of m to full resolution into dst (w*h).
func upsample(m *image.YCbCr, plane []uint8, dst []uint8) {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	// Real (not padded) chroma size, as libjpeg's downsampled_width/height.
	var hs, vs int
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
		hs, vs = 1, 1
	case image.YCbCrSubsampleRatio422:
		hs, vs = 2, 1
	case image.YCbCrSubsampleRatio420:
		hs, vs = 2, 2
	case image.YCbCrSubsampleRatio440:
		hs, vs = 1, 2
	case image.YCbCrSubsampleRatio411:
		hs, vs = 4, 1
	case image.YCbCrSubsampleRatio410:
		hs, vs = 4, 2
	}
	cw, ch := (w+hs-1)/hs, (h+vs-1)/vs
	at := func(cx, cy int) int32 {
		if cy < 0 {
			cy = 0
		}
		if cy >= ch {
			cy = ch - 1
		}
		return int32(plane[cy*m.CStride+cx])
	}
	// The chroma plane starts at the image's top-left for decoded JPEGs (Min = 0,0).
	switch {
	case hs == 2 && vs == 1 && cw >= 2:
		row := make([]uint8, 2*cw)
		for y := 0; y < h; y++ {
			in := plane[y*m.CStride : y*m.CStride+cw]
			row[0] = in[0]
			row[1] = uint8((int(in[0])*3 + int(in[1]) + 2) >> 2)
			for c := 1; c < cw-1; c++ {
				v := int(in[c]) * 3
				row[2*c] = uint8((v + int(in[c-1]) + 1) >> 2)
				row[2*c+1] = uint8((v + int(in[c+1]) + 2) >> 2)
			}
			row[2*cw-2] = uint8((int(in[cw-1])*3 + int(in[cw-2]) + 1) >> 2)
			row[2*cw-1] = in[cw-1]
			copy(dst[y*w:(y+1)*w], row)
		}
	case hs == 2 && vs == 2 && cw >= 2:
		row := make([]uint8, 2*cw)
		sums := make([]int32, cw)
		for y := 0; y < h; y++ {
			cy := y / 2
			ny := cy - 1 // output row 2k uses the chroma row above, 2k+1 the one below
			if y%2 == 1 {
				ny = cy + 1
			}
			for c := 0; c < cw; c++ {
				sums[c] = at(c, cy)*3 + at(c, ny)
			}
			row[0] = uint8((sums[0]*4 + 8) >> 4)
			row[1] = uint8((sums[0]*3 + sums[1] + 7) >> 4)
			for c := 1; c < cw-1; c++ {
				row[2*c] = uint8((sums[c]*3 + sums[c-1] + 8) >> 4)
				row[2*c+1] = uint8((sums[c]*3 + sums[c+1] + 7) >> 4)
			}
			row[2*cw-2] = uint8((sums[cw-1]*3 + sums[cw-2] + 8) >> 4)
			row[2*cw-1] = uint8((sums[cw-1]*4 + 7) >> 4)
			copy(dst[y*w:(y+1)*w], row)
		}
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				dst[y*w+x] = plane[(y/vs)*m.CStride+x/hs]
			}
		}
	}
}
