package load

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeImage writes a small solid-colour image (w x h) as PNG or JPEG by extension.
func writeImage(t *testing.T, path string, w, h int, c color.RGBA) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	var err error
	if strings.HasSuffix(path, ".jpg") {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95})
	} else {
		err = png.Encode(&buf, img)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeText(t *testing.T, path, s string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// shape summarises a listing: split -> class names -> sample rels.
func shape(l *listing) map[string][][]string {
	out := map[string][][]string{}
	for _, s := range l.splits {
		for _, c := range s.classes {
			row := []string{c.name}
			for _, sm := range c.samples {
				row = append(row, sm.rel)
			}
			out[s.name] = append(out[s.name], row)
		}
	}
	return out
}

func TestCUBLayout(t *testing.T) {
	root := t.TempDir()
	red := color.RGBA{200, 10, 10, 255}
	// Numeric order 1, 2, 3, 10 differs from string order ("010" < "003" is false, but
	// "10.X" would sort before "2.Y"): use unpadded numbers to prove the integer sort.
	for _, d := range []string{"2.Bee", "10.Wren", "1.Albatross", "3.Crow"} {
		writeImage(t, filepath.Join(root, "images", d, "b.jpg"), 4, 4, red)
		writeImage(t, filepath.Join(root, "images", d, "a.jpg"), 4, 4, red)
		writeImage(t, filepath.Join(root, "images", d, "._a.jpg"), 4, 4, red)
	}
	os.MkdirAll(filepath.Join(root, "images", "._9.Junk"), 0o755)
	l, err := list(KindCUB200, readOptions{root: root})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][][]string{
		"train": {{"1.Albatross", "images/1.Albatross/a.jpg", "images/1.Albatross/b.jpg"},
			{"2.Bee", "images/2.Bee/a.jpg", "images/2.Bee/b.jpg"}},
		"test": {{"3.Crow", "images/3.Crow/a.jpg", "images/3.Crow/b.jpg"},
			{"10.Wren", "images/10.Wren/a.jpg", "images/10.Wren/b.jpg"}},
	}
	if got := shape(l); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	l, err = list(KindCUB200, readOptions{root: root, valSplit: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	got := shape(l)
	if len(got["train"]) != 1 || got["train"][0][0] != "1.Albatross" || len(got["val"]) != 1 || got["val"][0][0] != "2.Bee" {
		t.Fatalf("val split: %v", got)
	}
	// A class folder with no images is an error naming it.
	os.MkdirAll(filepath.Join(root, "images", "4.Empty"), 0o755)
	if _, err := list(KindCUB200, readOptions{root: root}); err == nil || !strings.Contains(err.Error(), "4.Empty has no images") {
		t.Fatalf("empty class: %v", err)
	}
	os.Remove(filepath.Join(root, "images", "4.Empty"))
	os.MkdirAll(filepath.Join(root, "images", "Nonumber"), 0o755)
	if _, err := list(KindCUB200, readOptions{root: root}); err == nil || !strings.Contains(err.Error(), "must start with an integer") {
		t.Fatalf("bad class name: %v", err)
	}
}

func TestCarsLayout(t *testing.T) {
	root := t.TempDir()
	c := color.RGBA{1, 2, 3, 255}
	// Code-point order: uppercase before lowercase, "AM General" before "Acura".
	for _, d := range []string{"acura RL 2012", "Acura TL 2012", "AM General Hummer 2000", "BMW M3 2012", "Audi A5 2012", "Bentley 2009"} {
		writeImage(t, filepath.Join(root, "images", d, "00002.jpg"), 3, 5, c)
		writeImage(t, filepath.Join(root, "images", d, "00001.jpg"), 3, 5, c)
	}
	l, err := list(KindCars196, readOptions{root: root})
	if err != nil {
		t.Fatal(err)
	}
	got := shape(l)
	var tr, te []string
	for _, r := range got["train"] {
		tr = append(tr, r[0])
	}
	for _, r := range got["test"] {
		te = append(te, r[0])
	}
	if !reflect.DeepEqual(tr, []string{"AM General Hummer 2000", "Acura TL 2012", "Audi A5 2012"}) ||
		!reflect.DeepEqual(te, []string{"BMW M3 2012", "Bentley 2009", "acura RL 2012"}) {
		t.Fatalf("train %v test %v", tr, te)
	}
	if got["train"][0][1] != "images/AM General Hummer 2000/00001.jpg" {
		t.Fatalf("files not sorted: %v", got["train"][0])
	}
}

const sopHeader = "image_id class_id super_class_id path\n"

func TestSOPLayout(t *testing.T) {
	root := t.TempDir()
	// Class ids appear out of order; class 7 is a training product, 3 and 5 too; 2 and 9 test.
	writeText(t, filepath.Join(root, "Info_Files", "Ebay_train.txt"), sopHeader+
		"1 7 1 bicycle_final/111_0.JPG\n"+
		"2 3 1 bicycle_final/222_0.JPG\n"+
		"3 7 1 bicycle_final/111_1.JPG\n"+
		"4 5 2 chair_final/333_0.JPG\n\n")
	writeText(t, filepath.Join(root, "Info_Files", "Ebay_test.txt"), sopHeader+
		"1 9 2 chair_final/444_0.JPG\n"+
		"2 2 2 chair_final/555_0.JPG\n"+
		"3 9 2 chair_final/444_1.JPG\n")
	l, err := list(KindSOP, readOptions{root: root})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][][]string{
		"train": {{"3", "images/bicycle_final/222_0.JPG"}, {"5", "images/chair_final/333_0.JPG"},
			{"7", "images/bicycle_final/111_0.JPG", "images/bicycle_final/111_1.JPG"}},
		"test": {{"2", "images/chair_final/555_0.JPG"}, {"9", "images/chair_final/444_0.JPG", "images/chair_final/444_1.JPG"}},
	}
	if got := shape(l); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	// val split on insertion order 7, 3, 5: int(3*0.5) = 1 -> train {7}, val {3, 5} sorted.
	l, err = list(KindSOP, readOptions{root: root, valSplit: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	got := shape(l)
	if len(got["train"]) != 1 || got["train"][0][0] != "7" || len(got["val"]) != 2 || got["val"][0][0] != "3" || got["val"][1][0] != "5" {
		t.Fatalf("val split: %v", got)
	}
	if !reflect.DeepEqual(l.extra, []string{"Info_Files/Ebay_train.txt", "Info_Files/Ebay_test.txt"}) {
		t.Fatalf("extra %v", l.extra)
	}
	// Unreadable lines name file:line.
	for name, body := range map[string]string{
		"fields":   sopHeader + "1 7 1 a/1_0.JPG\n2 3 1\n",
		"class_id": sopHeader + "1 7 1 a/1_0.JPG\n2 x 1 a/2_0.JPG\n",
	} {
		writeText(t, filepath.Join(root, "Info_Files", "Ebay_train.txt"), body)
		_, err := list(KindSOP, readOptions{root: root})
		want := filepath.Join(root, "Info_Files", "Ebay_train.txt") + ":3:"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want it to contain %q", name, err, want)
		}
	}
	writeText(t, filepath.Join(root, "Info_Files", "Ebay_train.txt"), sopHeader+"1 7 1 a/1_0.JPG\n")
	os.Remove(filepath.Join(root, "Info_Files", "Ebay_test.txt"))
	if _, err := list(KindSOP, readOptions{root: root}); err == nil || !strings.Contains(err.Error(), "Ebay_test.txt") {
		t.Fatalf("missing info file: %v", err)
	}
}

func TestFolderSplitRules(t *testing.T) {
	root := t.TempDir()
	c := color.RGBA{9, 9, 9, 255}
	for _, d := range []string{"e", "a", "c", "b", "d"} {
		writeImage(t, filepath.Join(root, d, "1.png"), 2, 2, c)
		writeText(t, filepath.Join(root, d, "notes.txt"), "not an image")
	}
	os.MkdirAll(filepath.Join(root, ".hidden"), 0o755)
	names := func(cs []class) string {
		var s []string
		for _, c := range cs {
			s = append(s, c.name)
		}
		return strings.Join(s, "")
	}
	for _, tc := range []struct {
		rule        splitRule
		val         float64
		train, test string
		valNames    string
	}{
		{splitRule{mode: "half"}, 0, "ab", "cde", ""},
		{splitRule{mode: "alternate"}, 0, "ace", "bd", ""},
		{splitRule{mode: "first_n", trainClasses: 4}, 0, "abcd", "e", ""},
		{splitRule{mode: "first_n", trainClasses: 4}, 0.5, "ab", "e", "cd"},
	} {
		l, err := list(KindFolder, readOptions{root: root, rule: tc.rule, valSplit: tc.val})
		if err != nil {
			t.Fatal(err)
		}
		got := []string{names(l.splits[0].classes), names(l.splits[1].classes)}
		if len(l.splits) == 3 {
			got = append(got, names(l.splits[2].classes))
		}
		want := []string{tc.train, tc.test}
		if tc.valNames != "" {
			want = append(want, tc.valNames)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%+v: got %v want %v", tc.rule, got, want)
		}
	}
	for _, r := range []splitRule{{mode: "first_n", trainClasses: 5}, {mode: "first_n"}, {mode: "thirds"}} {
		if _, err := list(KindFolder, readOptions{root: root, rule: r}); err == nil {
			t.Errorf("rule %+v accepted", r)
		}
	}
	if _, err := list(KindFolder, readOptions{root: root, valSplit: 1.5}); err == nil {
		t.Error("val_split 1.5 accepted")
	}
}

func TestListErrors(t *testing.T) {
	if _, err := list(KindCUB200, readOptions{root: filepath.Join(t.TempDir(), "nope")}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("missing root: %v", err)
	}
	if _, err := list("imagenet", readOptions{root: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "unknown dataset kind") {
		t.Fatalf("unknown kind: %v", err)
	}
	if _, err := list(KindCars196, readOptions{root: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "images") {
		t.Fatalf("missing images folder: %v", err)
	}
}

func TestSubset(t *testing.T) {
	root := t.TempDir()
	c := color.RGBA{9, 9, 9, 255}
	for _, d := range []string{"a", "b", "c", "d", "e", "f"} {
		for _, f := range []string{"1.png", "2.png", "3.png"} {
			writeImage(t, filepath.Join(root, d, f), 2, 2, c)
		}
	}
	l, err := list(KindFolder, readOptions{root: root})
	if err != nil {
		t.Fatal(err)
	}
	l.subset(2, 2)
	want := map[string][][]string{
		"train": {{"a", "a/1.png", "a/2.png"}, {"b", "b/1.png", "b/2.png"}},
		"test":  {{"d", "d/1.png", "d/2.png"}, {"e", "e/1.png", "e/2.png"}},
	}
	if got := shape(l); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v", got)
	}
}

// prepareFolder writes a 6-class folder dataset with distinct colours per class.
func prepareFolder(t *testing.T) string {
	root := t.TempDir()
	for i, d := range []string{"a", "b", "c", "d", "e", "f"} {
		for k, f := range []string{"1.png", "2.jpg", "3.png"} {
			writeImage(t, filepath.Join(root, d, f), 12+k, 9, color.RGBA{uint8(40 * i), uint8(100 + k), 200, 255})
		}
	}
	return root
}

func TestPrepareErrors(t *testing.T) {
	t.Setenv(StatCacheEnv, "off")
	root := prepareFolder(t)
	// Truncated image: error names the file; skip_corrupt turns it into a counted warning.
	p := filepath.Join(root, "b", "2.jpg")
	b, _ := os.ReadFile(p)
	os.WriteFile(p, b[:len(b)/2], 0o644)
	o := Options{Kind: KindFolder, Root: root, Base: 8, Crop: 6}
	_, err := Prepare(context.Background(), o, t.TempDir(), nil, nil)
	if err == nil || !strings.Contains(err.Error(), "b/2.jpg") || !strings.Contains(err.Error(), "skip_corrupt") {
		t.Fatalf("truncated jpeg: %v", err)
	}
	o.SkipCorrupt = true
	var log bytes.Buffer
	m, err := Prepare(context.Background(), o, t.TempDir(), &log, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Skipped) != 1 || m.Skipped[0].Path != "b/2.jpg" || m.Splits["train"].N != 8 || !strings.Contains(log.String(), "skipping b/2.jpg") {
		t.Fatalf("skipped %+v n %d log %q", m.Skipped, m.Splits["train"].N, log.String())
	}
	// Every image of a class unreadable: error even with skip_corrupt.
	for _, f := range []string{"1.png", "3.png"} {
		os.WriteFile(filepath.Join(root, "b", f), []byte("garbage"), 0o644)
	}
	if _, err := Prepare(context.Background(), o, t.TempDir(), nil, nil); err == nil || !strings.Contains(err.Error(), `class "b" has no readable images`) {
		t.Fatalf("all corrupt: %v", err)
	}
	// Pinned digest mismatch.
	root = prepareFolder(t)
	o = Options{Kind: KindFolder, Root: root, Base: 8, Crop: 6, Digest: "sha256:0000"}
	_, err = Prepare(context.Background(), o, t.TempDir(), nil, nil)
	var dm *DigestMismatchError
	if !errors.As(err, &dm) || !strings.Contains(err.Error(), "pins digest") {
		t.Fatalf("digest mismatch: %v", err)
	}
	if _, err := Prepare(context.Background(), Options{Kind: KindFolder, Root: root, Base: 8, Crop: 9}, t.TempDir(), nil, nil); err == nil {
		t.Fatal("crop > base accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Prepare(ctx, Options{Kind: KindFolder, Root: root, Base: 8, Crop: 6}, t.TempDir(), nil, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}
