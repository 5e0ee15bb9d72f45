package load

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"dmlrun/stage"
)

// writeIDXFiles writes an IDX dataset whose training images file is images (labels for
// n images) and whose t10k files are a valid pair.
func writeIDXFiles(t *testing.T, root string, images []byte, n int) {
	t.Helper()
	labels := make([]byte, n)
	for i := range labels {
		labels[i] = byte(i % 2)
	}
	for name, b := range map[string][]byte{
		"train-images-idx3-ubyte": images,
		"train-labels-idx1-ubyte": idxBytes(8, []int{n}, labels),
		"t10k-images-idx3-ubyte":  idxBytes(8, []int{2, 2, 3}, make([]byte, 12)),
		"t10k-labels-idx1-ubyte":  idxBytes(8, []int{2}, []byte{2, 3}),
	} {
		if err := os.WriteFile(filepath.Join(root, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestIDXHostileHeaders: IDX files whose headers lie end in an error naming the file and
// what was expected, before anything the size of the claim is allocated; before, 0x0
// images panicked in the resampler ("makeslice: len out of range") and 4 x 2^31 x 2^31
// (a product that overflows to 0) with a slice-bounds panic.
func TestIDXHostileHeaders(t *testing.T) {
	t.Setenv(StatCacheEnv, "off")
	for _, tc := range []struct {
		name   string
		images []byte
		n      int
		want   string
	}{
		{"0x0 images", idxBytes(8, []int{2, 0, 0}, nil), 2, "train-images-idx3-ubyte: IDX header says 0x0 images; want at least 1x1"},
		{"0xN images", idxBytes(8, []int{2, 0, 5}, nil), 2, "IDX header says 0x5 images; want at least 1x1"},
		{"overflowing dimensions", idxBytes(8, []int{4, 1 << 31, 1 << 31}, nil), 4,
			"train-images-idx3-ubyte: IDX header's dimensions [4 2147483648 2147483648] need more than the 0 payload bytes the file can hold"},
		{"10^9 images in 1 KB", idxBytes(8, []int{1e9, 28, 28}, make([]byte, 1024)), 2,
			"dimensions [1000000000 28 28] need more than the 1024 payload bytes the file can hold"},
		{"10^9 images gzipped", gzipBytes(idxBytes(8, []int{1e9, 28, 28}, make([]byte, 1024))), 2,
			"dimensions [1000000000 28 28] need more than the"},
		{"short gzipped payload", gzipBytes(idxBytes(8, []int{2, 28, 28}, make([]byte, 100))), 2,
			"IDX payload (gunzipped) is 100 bytes, dimensions [2 28 28] need 1568"},
		{"long payload", idxBytes(8, []int{2, 2, 2}, make([]byte, 9)), 2, "IDX payload is 9 bytes, dimensions [2 2 2] need 8"},
		{"truncated header", []byte{0, 0, 8, 3, 0, 0}, 2, "truncated IDX header: 3 dimensions need 16 bytes, the file has 6"},
		{"labels disagree", idxBytes(8, []int{3, 2, 2}, make([]byte, 12)), 2, "do not describe the same images"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			writeIDXFiles(t, root, tc.images, tc.n)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Prepare(context.Background(), Options{Kind: KindIDX, Root: root, Base: 32, Crop: 28, Workers: 1}, t.TempDir(), nil, nil)
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v\nwant it to contain %q", err, tc.want)
			}
			// Allocation is cumulative (not a GC or timing measure): well under what the
			// headers claim (gigabytes), whatever else the process allocated meanwhile.
			if got := after.TotalAlloc - before.TotalAlloc; got > 64<<20 {
				t.Errorf("allocated %d bytes for a refused file", got)
			}
		})
	}
}

// TestImageSizeBounds: base and crop outside the documented range are refused when the
// stage starts (Prepare and Digest, which the key uses), before anything is read; before,
// base = 100000 ended in "fatal error: out of memory".
func TestImageSizeBounds(t *testing.T) {
	t.Setenv(StatCacheEnv, "off")
	root := prepareFolder(t)
	for _, tc := range []struct {
		base, crop int
		want       string
	}{
		{100000, 224, "base = 100000 is outside 8..1024"},
		{1025, 224, "base = 1025 is outside 8..1024"},
		{4, 4, "base = 4 is outside 8..1024"},
		{256, 257, "crop = 257 must be between 1 and base = 256"},
		{8, 8, ""},
		{1024, 1024, ""},
	} {
		o := Options{Kind: KindFolder, Root: root, Base: tc.base, Crop: tc.crop, Workers: 1}
		_, perr := Prepare(context.Background(), o, t.TempDir(), nil, nil)
		_, derr := Digest(context.Background(), o)
		for what, err := range map[string]error{"Prepare": perr, "Digest": derr} {
			if tc.want == "" {
				if err != nil {
					t.Errorf("base %d crop %d: %s: %v", tc.base, tc.crop, what, err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("base %d crop %d: %s: error = %v, want %q", tc.base, tc.crop, what, err, tc.want)
			}
		}
	}
	// The stage itself (params as spec fills them) refuses base = 100000 when it decodes
	// its config, at the argument's path.
	d := Def()
	params := datasetParams(KindFolder, root)
	params["base"] = int64(100000)
	ctx := &stage.Context{Context: context.Background(), Addr: "dataset.x", Params: params, OutDir: t.TempDir(), Log: io.Discard}
	if err := d.Run(ctx); err == nil || !strings.Contains(err.Error(), `dataset.x: base: Value out of range: "base" must be at most 1024; got 100000.`) {
		t.Fatalf("stage run: %v", err)
	}
	// A dataset.json claiming base = 100000 is refused by Open.
	out := t.TempDir()
	os.WriteFile(filepath.Join(out, "dataset.json"), []byte(`{"format":1,"protocol":{"base":100000,"crop":224}}`), 0o644)
	if _, err := Open(out); err == nil || !strings.Contains(err.Error(), "base = 100000 is outside") {
		t.Fatalf("Open: %v", err)
	}
}

// TestElongatedImageCheap: an image whose shorter side resized to base is huge (1 x 20000
// at base 256 -> 256 x 5120000) costs its crop, not the resized image: before, the whole
// 3.9 GB resize was allocated.
func TestElongatedImageCheap(t *testing.T) {
	p := filepath.Join(t.TempDir(), "thin.png")
	var buf bytes.Buffer
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 20000)))
	os.WriteFile(p, buf.Bytes(), 0o644)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	out, err := PreprocessFile(p, 256, false)
	runtime.ReadMemStats(&after)
	if err != nil || len(out) != 256*256*3 {
		t.Fatalf("%d bytes, %v", len(out), err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 64<<20 {
		t.Errorf("allocated %d bytes for a 256x256 crop", got)
	}
	if _, err := PreprocessFile(p, 100000, false); err == nil || !strings.Contains(err.Error(), "base = 100000 is outside") {
		t.Fatalf("PreprocessFile base 100000: %v", err)
	}
}

// TestCentreCropWindow: the windowed centre crop equals resizing the whole image and
// cropping it, byte for byte, across aspect ratios, up- and downscaling and the
// no-resize cases.
func TestCentreCropWindow(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, sz := range [][3]int{{8, 8, 8}, {9, 8, 8}, {8, 30, 8}, {3, 50, 16}, {50, 3, 16}, {100, 37, 16}, {37, 100, 32}, {16, 40, 16}, {40, 16, 16}, {7, 7, 32}, {200, 1, 8}, {1, 1, 8}} {
		w, h, base := sz[0], sz[1], sz[2]
		src := rgbView{Pix: make([]uint8, w*h*3), Stride: 3 * w, W: w, H: h}
		for i := range src.Pix {
			src.Pix[i] = uint8(r.IntN(256))
		}
		got := resizeCenterCrop(src, base)
		rw, rh := shortSideSize(w, h, base)
		full := src
		if !((w <= h && w == base) || (h <= w && h == base)) {
			full = rgbView{Pix: resizeRGB(src, rw, rh, nil), Stride: 3 * rw, W: rw, H: rh}
		}
		top, left := pyRound(float64(full.H-base)/2), pyRound(float64(full.W-base)/2)
		want := make([]uint8, 0, base*base*3)
		for y := 0; y < base; y++ {
			o := (y+top)*full.Stride + 3*left
			want = append(want, full.Pix[o:o+3*base]...)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%dx%d at base %d: windowed crop differs from resize-then-crop", w, h, base)
		}
	}
}

// TestResourceCheck: with the available memory or disk space injected, a dataset whose
// shards need more is refused before decoding, with the numbers.
func TestResourceCheck(t *testing.T) {
	t.Setenv(StatCacheEnv, "off")
	root := prepareFolder(t) // 18 images
	o := Options{Kind: KindFolder, Root: root, Base: 1024, Crop: 224, Workers: 2}
	setMem := func(n int64, ok bool) {
		old := memAvailable
		memAvailable = func() (int64, bool) { return n, ok }
		t.Cleanup(func() { memAvailable = old })
	}
	setDisk := func(n int64, ok bool) {
		old := diskFree
		diskFree = func(string) (int64, bool) { return n, ok }
		t.Cleanup(func() { diskFree = old })
	}
	// Train and test hold 9 images each; one shard of 9 held twice plus 2 workers: 20 x 3 MiB.
	setMem(64<<20, true)
	setDisk(1<<40, true)
	_, err := Prepare(context.Background(), o, t.TempDir(), nil, nil)
	want := "base = 1024: decoding needs about 66.0 MiB of memory at once (9 images per shard, held twice, and 2 workers, 3.0 MiB per image) but 64.0 MiB is available"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("memory: %v\nwant %q", err, want)
	}
	setMem(0, false) // unknown: not checked
	setDisk(10<<20, true)
	out := t.TempDir()
	_, err = Prepare(context.Background(), o, out, nil, nil)
	want = "base = 1024: the 18 images take 54.0 MiB stored (3.0 MiB each), but " + out + " has 10.0 MiB free"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("disk: %v\nwant %q", err, want)
	}
	setMem(1<<30, true)
	setDisk(1<<30, true)
	if _, err := Prepare(context.Background(), Options{Kind: KindFolder, Root: root, Base: 64, Crop: 56, Workers: 2}, t.TempDir(), nil, nil); err != nil {
		t.Fatalf("enough memory and disk: %v", err)
	}
}

func TestParseMemAvailable(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"MemTotal:       32594044 kB\nMemFree:         1234 kB\nMemAvailable:   24206688 kB\n", 24206688 << 10, true},
		{"MemTotal: 1 kB\n", 0, false},
		{"MemAvailable: x kB\n", 0, false},
		{"MemAvailable: 12 MB\n", 0, false},
		{"", 0, false},
	} {
		got, ok := parseMemAvailable([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("%q: %d %v, want %d %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
