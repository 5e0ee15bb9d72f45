package load

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadIDX: any file content is decoded or rejected with an error naming the file;
// never a panic or a payload that disagrees with the dimensions.
func FuzzReadIDX(f *testing.F) {
	f.Add(idxBytes(8, []int{2, 2, 2}, make([]byte, 8)))
	f.Add(idxBytes(8, []int{3}, []byte{1, 2, 3}))
	f.Add([]byte{0x1f, 0x8b, 0, 0})
	f.Add([]byte{0, 0, 8, 200, 1})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "x-idx")
		os.WriteFile(p, b, 0o644)
		dims, body, err := readIDX(p)
		if err != nil {
			return
		}
		n := 1
		for _, d := range dims {
			n *= d
		}
		if n != len(body) {
			t.Fatalf("dims %v but %d bytes", dims, len(body))
		}
	})
}

// FuzzInfoFile: Ebay_*.txt parsing never panics; accepted rows have a path.
func FuzzInfoFile(f *testing.F) {
	f.Add(sopHeader + "1 7 1 bicycle_final/111_0.JPG\n")
	f.Add(sopHeader + "1 x 1 a\n")
	f.Add("garbage")
	f.Add(sopHeader + "\n\n1 2 3 4 5\n")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, s string) {
		p := filepath.Join(dir, "Ebay_train.txt")
		os.WriteFile(p, []byte(s), 0o644)
		rows, err := readInfoFile(p)
		if err != nil {
			return
		}
		for _, r := range rows {
			if r.path == "" {
				t.Fatalf("row without path: %+v", r)
			}
			_ = productID(r.path)
		}
	})
}

// FuzzDecodeRGB: arbitrary bytes decode to a consistent image or an error.
func FuzzDecodeRGB(f *testing.F) {
	for _, n := range []string{"rgb.png", "q420.jpg", "anim.gif", "cmyk.jpg", "grey16.png"} {
		b, err := os.ReadFile(filepath.Join("testdata", "pil", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pix, w, h, err := decodeRGB(b, true)
		if err != nil {
			return
		}
		if len(pix) != 3*w*h {
			t.Fatalf("%d bytes for %dx%d", len(pix), w, h)
		}
	})
}
