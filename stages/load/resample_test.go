package load

import (
	"encoding/base64"
	"encoding/json"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pilReference is written by testdata/gen_pil_reference.py (Pillow 9.4, torchvision 0.14).
type pilReference struct {
	Images []struct {
		File string `json:"file"`
		W    int    `json:"w"`
		H    int    `json:"h"`
		RGB  string `json:"rgb"`
	} `json:"images"`
	ResizeSrc struct {
		File string `json:"file"`
		W, H int
	} `json:"resize_src"`
	Resize []struct {
		W, H int
		RGB  string `json:"rgb"`
	} `json:"resize"`
	Center []struct {
		Base       int    `json:"base"`
		Transposed bool   `json:"transposed"`
		RGB        string `json:"rgb"`
	} `json:"center"`
	CropResize []struct {
		Top, Left, H, W, Size int
		RGB                   string `json:"rgb"`
	} `json:"crop_resize"`
}

func loadPIL(t *testing.T) pilReference {
	t.Helper()
	b, err := os.ReadFile("testdata/pil_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var r pilReference
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func unb64(t *testing.T, s string) []uint8 {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// maxDiff returns the largest absolute byte difference and how many bytes differ.
func maxDiff(a, b []uint8) (int, int) {
	m, n := 0, 0
	for i := range a {
		d := int(a[i]) - int(b[i])
		if d < 0 {
			d = -d
		}
		if d > 0 {
			n++
		}
		if d > m {
			m = d
		}
	}
	return m, n
}

// TestDecodeMatchesPIL compares decodeRGB with PIL's Image.open(p).convert('RGB'). Lossless
// formats must match exactly; JPEGs within the tolerance the IDCT difference allows.
func TestDecodeMatchesPIL(t *testing.T) {
	ref := loadPIL(t)
	for _, im := range ref.Images {
		t.Run(filepath.Base(im.File), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", im.File))
			if err != nil {
				t.Fatal(err)
			}
			pix, w, h, err := decodeRGB(data, false, maxPixels)
			if err != nil {
				t.Fatal(err)
			}
			if w != im.W || h != im.H {
				t.Fatalf("size %dx%d, want %dx%d", w, h, im.W, im.H)
			}
			want := unb64(t, im.RGB)
			m, n := maxDiff(pix, want)
			tol := 0
			if strings.HasSuffix(im.File, ".jpg") {
				tol = 3 // Go's inverse DCT differs from libjpeg's islow by up to a level
			}
			t.Logf("max |diff| %d, %d of %d bytes differ", m, n, len(want))
			if m > tol {
				t.Fatalf("max |diff| %d > %d (%d of %d bytes differ)", m, tol, n, len(want))
			}
		})
	}
}

func loadBig(t *testing.T, ref pilReference) rgbView {
	data, err := os.ReadFile(filepath.Join("testdata", ref.ResizeSrc.File))
	if err != nil {
		t.Fatal(err)
	}
	pix, w, h, err := decodeRGB(data, false, maxPixels)
	if err != nil {
		t.Fatal(err)
	}
	return rgbView{Pix: pix, Stride: 3 * w, W: w, H: h}
}

// TestResizeMatchesPIL: Image.resize(BILINEAR), Resize+CenterCrop and resized_crop
// reproduce Pillow byte for byte.
func TestResizeMatchesPIL(t *testing.T) {
	ref := loadPIL(t)
	src := loadBig(t, ref)
	for _, c := range ref.Resize {
		got := resizeRGB(src, c.W, c.H, nil)
		if m, n := maxDiff(got, unb64(t, c.RGB)); m != 0 {
			t.Errorf("resize to %dx%d: max |diff| %d, %d bytes differ", c.W, c.H, m, n)
		}
	}
	for _, c := range ref.Center {
		s := src
		if c.Transposed {
			s = transposeView(src)
		}
		got := resizeCenterCrop(s, c.Base)
		if m, n := maxDiff(got, unb64(t, c.RGB)); m != 0 {
			t.Errorf("resize+centre crop base %d transposed %v: max |diff| %d, %d bytes differ", c.Base, c.Transposed, m, n)
		}
	}
	for _, c := range ref.CropResize {
		v := src
		v.Off = c.Top*src.Stride + 3*c.Left
		v.W, v.H = c.W, c.H
		got := resizeRGB(v, c.Size, c.Size, nil)
		if m, n := maxDiff(got, unb64(t, c.RGB)); m != 0 {
			t.Errorf("resized_crop %+v: max |diff| %d, %d bytes differ", c, m, n)
		}
	}
}

func transposeView(v rgbView) rgbView {
	out := make([]uint8, v.W*v.H*3)
	for y := 0; y < v.H; y++ {
		for x := 0; x < v.W; x++ {
			copy(out[3*(x*v.H+y):3*(x*v.H+y)+3], v.Pix[v.Off+y*v.Stride+3*x:])
		}
	}
	return rgbView{Pix: out, Stride: 3 * v.H, W: v.H, H: v.W}
}

func TestPyRound(t *testing.T) {
	for x, want := range map[float64]int{0.5: 0, 1.5: 2, 2.5: 2, 14.5: 14, 15.5: 16, -0.5: 0, 3.4999: 3} {
		if got := pyRound(x); got != want {
			t.Errorf("pyRound(%v) = %d want %d", x, got, want)
		}
	}
}

func TestOverWhite(t *testing.T) {
	for v := 0; v < 256; v++ {
		for a := 0; a < 256; a++ {
			want := int(float64(v*a+255*(255-a))/255 + 0.5)
			if got := int(overWhite(uint8(v), a)); got != want {
				t.Fatalf("overWhite(%d, %d) = %d want %d", v, a, got, want)
			}
		}
	}
}

func TestDecodeBomb(t *testing.T) {
	// A PNG header claiming 20000 x 20000 pixels (no data needed to be rejected).
	b, _ := os.ReadFile("testdata/pil/rgb.png")
	hdr := append([]byte{}, b[:33]...)
	hdr[16], hdr[17], hdr[18], hdr[19] = 0, 0, 0x4e, 0x20
	hdr[20], hdr[21], hdr[22], hdr[23] = 0, 0, 0x4e, 0x20
	// fix the IHDR CRC so DecodeConfig accepts the header
	crc := crc32.ChecksumIEEE(hdr[12:29])
	hdr[29], hdr[30], hdr[31], hdr[32] = byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc)
	if _, _, _, err := decodeRGB(hdr, false, maxPixels); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("err = %v", err)
	}
}
