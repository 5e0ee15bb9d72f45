package load

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"image/color"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func idxBytes(typ byte, dims []int, body []byte) []byte {
	b := []byte{0, 0, typ, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	return append(b, body...)
}

// writeIDXSet writes a tiny MNIST-like set (4x3 images, labels 0..3) with plain and
// gzip-compressed files.
func writeIDXSet(t *testing.T, root string) {
	t.Helper()
	for _, part := range []struct {
		name   string
		labels []byte
		gz     bool
	}{{"train", []byte{0, 1, 2, 3, 0, 1}, true}, {"t10k", []byte{3, 2}, false}} {
		n := len(part.labels)
		pix := make([]byte, n*12)
		for i := range pix {
			pix[i] = byte(i)
		}
		files := map[string][]byte{
			part.name + "-images-idx3-ubyte": idxBytes(8, []int{n, 3, 4}, pix),
			part.name + "-labels-idx1-ubyte": idxBytes(8, []int{n}, part.labels),
		}
		for name, b := range files {
			if part.gz {
				var buf bytes.Buffer
				zw := gzip.NewWriter(&buf)
				zw.Write(b)
				zw.Close()
				b, name = buf.Bytes(), name+".gz"
			}
			if err := os.WriteFile(filepath.Join(root, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestIDXReader(t *testing.T) {
	root := t.TempDir()
	writeIDXSet(t, root)
	l, err := list(KindIDX, readOptions{root: root})
	if err != nil {
		t.Fatal(err)
	}
	got := shape(l)
	// Pool order: train file then t10k; classes 0,1 train, 2,3 test.
	want := map[string][][]string{
		"train": {{"0", "train-images-idx3-ubyte.gz#0", "train-images-idx3-ubyte.gz#4"}, {"1", "train-images-idx3-ubyte.gz#1", "train-images-idx3-ubyte.gz#5"}},
		"test":  {{"2", "train-images-idx3-ubyte.gz#2", "t10k-images-idx3-ubyte#1"}, {"3", "train-images-idx3-ubyte.gz#3", "t10k-images-idx3-ubyte#0"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	if s := l.splits[0].classes[0].samples[1]; s.gw != 4 || s.gh != 3 || s.grey[0] != 48 {
		t.Fatalf("sample %+v", s)
	}
	l, err = list(KindIDX, readOptions{root: root, rule: splitRule{mode: "alternate"}})
	if err != nil || l.splits[0].classes[1].name != "2" {
		t.Fatalf("alternate: %v %v", err, shapeNames(l))
	}
	// Error cases name the file.
	bad := filepath.Join(root, "t10k-labels-idx1-ubyte")
	for name, b := range map[string][]byte{
		"magic":     []byte{1, 2, 3, 4, 5},
		"type":      idxBytes(0x0d, []int{2}, make([]byte, 8)),
		"truncated": idxBytes(8, []int{5}, []byte{1, 2}),
		"count":     idxBytes(8, []int{3}, []byte{1, 2, 3}),
	} {
		os.WriteFile(bad, b, 0o644)
		if _, err := list(KindIDX, readOptions{root: root}); err == nil || !strings.Contains(err.Error(), "t10k-labels-idx1-ubyte") {
			t.Errorf("%s: %v", name, err)
		}
	}
	os.Remove(bad)
	if _, err := list(KindIDX, readOptions{root: root}); err == nil || !strings.Contains(err.Error(), "t10k-labels-idx1-ubyte.gz") {
		t.Errorf("missing file: %v", err)
	}
}

// TestEmojiLayout builds a two-vendor emoji tree: classes need every vendor's image, are
// ordered by sort_order and get one image per vendor; transparency is composited on white.
func TestEmojiLayout(t *testing.T) {
	t.Setenv(StatCacheEnv, "off")
	root := t.TempDir()
	js := `[
 {"unified":"A","short_name":"a","image":"a.png","sort_order":3,"has_img_g":true,"has_img_t":true},
 {"unified":"B","short_name":"b","image":"b.png","sort_order":1,"has_img_g":true,"has_img_t":true},
 {"unified":"C","short_name":"c","image":"c.png","sort_order":2,"has_img_g":true,"has_img_t":false},
 {"unified":"D","short_name":"d","image":"d.png","sort_order":0,"has_img_g":true,"has_img_t":true},
 {"unified":"E","short_name":"e","image":"e.png","sort_order":9,"has_img_g":true,"has_img_t":true}]`
	for _, v := range []string{"g", "t"} {
		writeText(t, filepath.Join(root, v, "package", "emoji.json"), js)
		for _, n := range []string{"a", "b", "c", "d", "e"} {
			writeImage(t, filepath.Join(root, v, "package", "img", v, "64", n+".png"), 4, 4, color.RGBA{0, 0, 0, 0})
		}
	}
	l, err := list(KindEmoji, readOptions{root: root, vendors: []string{"g", "t"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := shapeNames(l); strings.Join(got["train"], "") != "db" || strings.Join(got["test"], "") != "ae" {
		t.Fatalf("classes %v", got)
	}
	if s := l.splits[0].classes[0].samples; len(s) != 2 || s[1].rel != "t/package/img/t/64/d.png" {
		t.Fatalf("samples %+v", s)
	}
	out := t.TempDir()
	if _, err := Prepare(context.Background(), Options{Kind: KindEmoji, Root: root, Base: 8, Crop: 8, Vendors: []string{"g", "t"}}, out, nil, nil); err != nil {
		t.Fatal(err)
	}
	p, _ := Open(out)
	defer p.Close()
	s, _ := p.Split("train")
	for _, v := range s.Image(0) {
		if v != 255 {
			t.Fatalf("transparent pixel not white: %v", s.Image(0)[:3])
		}
	}
	// A missing image file is an error naming it.
	os.Remove(filepath.Join(root, "t", "package", "img", "t", "64", "a.png"))
	_, err = Prepare(context.Background(), Options{Kind: KindEmoji, Root: root, Base: 8, Crop: 8, Vendors: []string{"g", "t"}}, t.TempDir(), nil, nil)
	if err == nil || !strings.Contains(err.Error(), "t/package/img/t/64/a.png") {
		t.Fatalf("missing image: %v", err)
	}
}

// BenchmarkPreprocess measures the per-image work of the load stage (decode, RGB,
// resize, centre crop) on one PNG, for comparison across changes.
func BenchmarkPreprocess(b *testing.B) {
	for _, base := range []int{32, 256} {
		b.Run(map[int]string{32: "down32", 256: "up256"}[base], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := PreprocessFile("testdata/pil/big.png", base, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
