package load

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/color"
	"image/png"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Fuzz targets of the load stage's decoders: IDX files (alone and as a dataset), the
// Online Products info files, images, and dataset trees with index files and symlinks.
// Seeds are added here and kept in testdata/fuzz/<Target>/ (regressions found by fuzzing).
// The property is always: no panic, no hang, and an input is either accepted with
// consistent results or refused with an error.

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// FuzzReadIDX: any file content is decoded or rejected with an error naming the file;
// never a panic, an allocation beyond what the file holds, or a payload that disagrees
// with the dimensions.
func FuzzReadIDX(f *testing.F) {
	f.Add(idxBytes(8, []int{2, 2, 2}, make([]byte, 8)))
	f.Add(idxBytes(8, []int{3}, []byte{1, 2, 3}))
	f.Add(gzipBytes(idxBytes(8, []int{2, 1, 3}, make([]byte, 6))))
	f.Add([]byte{0x1f, 0x8b, 0, 0})
	f.Add([]byte{0, 0, 8, 200, 1})
	f.Add(idxBytes(8, []int{4, 1 << 31, 1 << 31}, nil))                 // product overflows int64 to 0
	f.Add(idxBytes(8, []int{1e9, 28, 28}, make([]byte, 1024)))          // 10^9 images claimed in 1 KB
	f.Add(gzipBytes(idxBytes(8, []int{1e9, 28, 28}, make([]byte, 64)))) // the same, gzipped
	f.Fuzz(func(t *testing.T, b []byte) {
		dims, body, err := decodeIDX("x-idx", b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "x-idx: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		n := big.NewInt(1)
		for _, d := range dims {
			n.Mul(n, big.NewInt(int64(d)))
		}
		if !n.IsInt64() || n.Int64() != int64(len(body)) {
			t.Fatalf("dims %v but %d bytes", dims, len(body))
		}
	})
}

// FuzzIDXDataset: an IDX dataset whose training image and label files are arbitrary is
// listed and its first images decoded (as Prepare does) or refused with an error; never a
// panic (0x0 images, overflowing dimensions, labels that disagree with the images).
func FuzzIDXDataset(f *testing.F) {
	f.Add(idxBytes(8, []int{2, 2, 3}, make([]byte, 12)), idxBytes(8, []int{2}, []byte{0, 1}))
	f.Add(idxBytes(8, []int{2, 0, 0}, nil), idxBytes(8, []int{2}, []byte{0, 1}))                   // 0x0 images
	f.Add(idxBytes(8, []int{4, 1 << 31, 1 << 31}, nil), idxBytes(8, []int{4}, []byte{0, 1, 2, 3})) // overflow
	f.Add(idxBytes(8, []int{2, 1, 4000}, make([]byte, 8000)), idxBytes(8, []int{2}, []byte{0, 1})) // elongated
	t10kImages := idxBytes(8, []int{2, 2, 3}, make([]byte, 12))
	t10kLabels := idxBytes(8, []int{2}, []byte{2, 3})
	root := f.TempDir()
	f.Fuzz(func(t *testing.T, images, labels []byte) {
		for name, b := range map[string][]byte{
			"train-images-idx3-ubyte": images, "train-labels-idx1-ubyte": labels,
			"t10k-images-idx3-ubyte": t10kImages, "t10k-labels-idx1-ubyte": t10kLabels,
		} {
			if err := os.WriteFile(filepath.Join(root, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		l, err := list(KindIDX, readOptions{root: root})
		if err != nil {
			return
		}
		for _, s := range l.splits {
			for _, c := range s.classes {
				for _, sm := range c.samples[:min(2, len(c.samples))] {
					if len(sm.grey) != sm.gw*sm.gh || sm.gw < 1 || sm.gh < 1 {
						t.Fatalf("%s: %d pixels for %dx%d", sm.rel, len(sm.grey), sm.gw, sm.gh)
					}
					pix, err := decodeSample(sm, "", 8, false, "")
					if err == nil && len(pix) != 8*8*3 {
						t.Fatalf("%s: %d bytes stored, want %d", sm.rel, len(pix), 8*8*3)
					}
				}
			}
		}
	})
}

// FuzzInfoFile: Ebay_*.txt parsing never panics; accepted rows have a path that stays
// inside the dataset root as written.
func FuzzInfoFile(f *testing.F) {
	f.Add(sopHeader + "1 7 1 bicycle_final/111_0.JPG\n")
	f.Add(sopHeader + "1 x 1 a\n")
	f.Add("garbage")
	f.Add(sopHeader + "\n\n1 2 3 4 5\n")
	f.Add(sopHeader + "1 1 1 ../../../outside/secret_111_0.png\n")
	f.Add(sopHeader + "1 1 1 /etc/passwd\n")
	f.Add(sopHeader + "1 1 1 a/./b/../../c_1.png\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		rows, err := parseInfoFile("/ds", "/ds/Info_Files/Ebay_train.txt", []byte(s))
		if err != nil {
			if !strings.Contains(err.Error(), "/ds/Info_Files/Ebay_train.txt") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, r := range rows {
			if why := lexicalEscape(r.path); why != "" || strings.Contains("/"+r.path+"/", "/../") {
				t.Fatalf("accepted row %+v whose path %s", r, why)
			}
			_ = productID(r.path)
		}
	})
}

// fuzzMaxPixels bounds the images FuzzDecodeRGB decodes: headers declaring more are
// refused before decoding (as maxPixels does in production), so the fuzzer spends its time
// on the decoders' parsing, not on allocating and converting huge images.
const fuzzMaxPixels = 1 << 16

// FuzzDecodeRGB: arbitrary bytes decode to a consistent image, which resizes and crops to
// base x base, or give an error.
func FuzzDecodeRGB(f *testing.F) {
	for _, n := range []string{"rgb.png", "q420.jpg", "anim.gif", "cmyk.jpg", "grey16.png", "palette.png", "la.png"} {
		b, err := os.ReadFile(filepath.Join("testdata", "pil", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pix, w, h, err := decodeRGB(b, true, fuzzMaxPixels)
		if err != nil {
			return
		}
		if len(pix) != 3*w*h || int64(w)*int64(h) > fuzzMaxPixels {
			t.Fatalf("%d bytes for %dx%d", len(pix), w, h)
		}
		if checkResize(w, h, 8) != nil {
			return
		}
		if out := resizeCenterCrop(rgbView{Pix: pix, Stride: 3 * w, W: w, H: h}, 8); len(out) != 8*8*3 {
			t.Fatalf("%dx%d: %d bytes stored", w, h, len(out))
		}
	})
}

// treeKinds are the kinds FuzzDatasetTree lists, by the spec's kind byte.
var treeKinds = []string{KindCUB200, KindCars196, KindSOP, KindFolder, KindEmoji, KindIDX}

// tinyPNG is a valid 2x2 image.
var tinyPNG = func() []byte {
	var buf bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 2, 2))
	img.Set(0, 0, color.RGBA{1, 2, 3, 255})
	png.Encode(&buf, img)
	return buf.Bytes()
}()

// buildTree makes a dataset tree under root from a spec, one entry per line:
//
//	d REL            a directory (and its parents)
//	p REL            a small PNG image
//	f REL TEXT       a file with TEXT, "\n" standing for newlines
//	l REL TARGET     a symlink to TARGET
//
// Everything is created through an os.Root, so nothing is made outside root whatever the
// spec says. Symlink targets are kept inside parent (root's parent, which holds the
// outside folder): an absolute TARGET is taken relative to parent, and a relative one that
// would climb above parent is skipped, so a containment bug reads the fixture's secret
// file, never the machine's files.
func buildTree(parent, root, spec string) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return
	}
	defer r.Close()
	for i, line := range strings.Split(spec, "\n") {
		if i >= 64 {
			break
		}
		op, rest, _ := strings.Cut(line, " ")
		rel, arg, _ := strings.Cut(rest, " ")
		if !filepath.IsLocal(rel) {
			continue
		}
		switch op {
		case "d":
			r.MkdirAll(rel, 0o755)
		case "p", "f":
			r.MkdirAll(filepath.Dir(rel), 0o755)
			data := tinyPNG
			if op == "f" {
				data = []byte(strings.ReplaceAll(arg, `\n`, "\n"))
			}
			r.WriteFile(rel, data, 0o644)
		case "l":
			if arg == "" {
				continue
			}
			target := arg
			if filepath.IsAbs(arg) {
				target = filepath.Join(parent, arg)
			} else if p := filepath.Join(root, filepath.Dir(rel), arg); p != parent && !strings.HasPrefix(p, parent+string(filepath.Separator)) {
				continue
			}
			r.MkdirAll(filepath.Dir(rel), 0o755)
			r.Symlink(target, rel)
		}
	}
}

// FuzzDatasetTree: a dataset folder made of arbitrary directories, images, index files
// (Ebay_*.txt, emoji.json, IDX) and symlinks is listed and digested as Digest and Prepare
// do, or refused with an error; never a panic, and never a read outside the root: every
// file digested resolves inside it, and the secret file next to the root, reachable only
// by escaping it, is never among the digested contents.
func FuzzDatasetTree(f *testing.F) {
	f.Add(uint8(3), "p a/1.png\np b/1.png\nl c ../outside\nl a/2.png /outside/secret_111_0.png")
	f.Add(uint8(3), "p a/1.png\np b/1.png\nl c a\nl a/2.png ../b/1.png")
	f.Add(uint8(0), "p images/1.A/x.png\np images/2.B/x.png\nl images/3.C ../../outside")
	f.Add(uint8(1), "p images/A 1/x.png\np images/B 2/x.png\nl images/B 2/y.png ../../../outside/secret_111_0.png")
	f.Add(uint8(2), `p images/b_final/1_0.png
p images/c_final/2_0.png
f Info_Files/Ebay_train.txt image_id class_id super_class_id path\n1 1 1 b_final/1_0.png\n2 1 1 ../../outside/secret_111_0.png
f Info_Files/Ebay_test.txt image_id class_id super_class_id path\n1 2 1 c_final/2_0.png`)
	f.Add(uint8(2), `p images/b_final/1_0.png
p images/c_final/2_0.png
l images/evil_final ../../outside
f Info_Files/Ebay_train.txt image_id class_id super_class_id path\n1 1 1 b_final/1_0.png\n2 3 1 evil_final/secret_111_0.png
f Info_Files/Ebay_test.txt image_id class_id super_class_id path\n1 2 1 c_final/2_0.png`)
	f.Add(uint8(4), `f google/package/emoji.json [{"unified":"A","image":"a.png","sort_order":1,"has_img_google":true},{"unified":"B","image":"../../../../../outside/secret_111_0.png","sort_order":2,"has_img_google":true}]
p google/package/img/google/64/a.png
f twitter/package/emoji.json [{"unified":"A","image":"a.png","sort_order":1,"has_img_twitter":true}]
l twitter/package/img/twitter/64/a.png /outside/secret_111_0.png`)
	f.Add(uint8(5), "l train-images-idx3-ubyte /outside/secret_111_0.png\nf train-labels-idx1-ubyte x")
	base := f.TempDir()
	f.Fuzz(func(t *testing.T, kind uint8, spec string) {
		parent, err := os.MkdirTemp(base, "t")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(parent)
		// A fresh random secret per run: no file the spec writes can have its contents.
		secret := make([]byte, 32)
		rand.Read(secret)
		secretSum := sha256.Sum256(secret)
		root := filepath.Join(parent, "ds")
		os.MkdirAll(filepath.Join(parent, "outside"), 0o755)
		os.WriteFile(filepath.Join(parent, "outside", "secret_111_0.png"), secret, 0o644)
		os.Mkdir(root, 0o755)
		buildTree(parent, root, spec)
		l, err := list(treeKinds[int(kind)%len(treeKinds)], readOptions{root: root, vendors: []string{"google", "twitter"}})
		if err != nil {
			return
		}
		_, st, err := datasetDigest(context.Background(), l, openStatCache(""), nil)
		if err != nil {
			return
		}
		realRoot, err := filepath.EvalSymlinks(root)
		if err != nil {
			t.Fatal(err)
		}
		for rel, p := range st.Real {
			if p != realRoot && !strings.HasPrefix(p, realRoot+string(filepath.Separator)) {
				t.Fatalf("%s was read at %s, outside the root %s", rel, p, realRoot)
			}
			if st.Sums[rel] == hex.EncodeToString(secretSum[:]) {
				t.Fatalf("%s has the outside secret's contents", rel)
			}
		}
	})
}
