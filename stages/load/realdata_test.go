package load

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// dataDir locates the data sets scripts/fetch-data.sh installs: $DMLRUN_DATA, else
// <repository root>/data. A missing folder fails the test (CI fetches the data first):
// skipping would prove nothing.
func dataDir(t *testing.T, sub string) string {
	t.Helper()
	d := os.Getenv("DMLRUN_DATA")
	if d == "" {
		wd, _ := os.Getwd()
		for dir := wd; ; dir = filepath.Dir(dir) {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				d = filepath.Join(dir, "data")
				break
			}
			if filepath.Dir(dir) == dir {
				t.Fatal("repository root (go.mod) not found above " + wd)
			}
		}
	}
	p := filepath.Join(d, sub)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is missing: run scripts/fetch-data.sh (or set DMLRUN_DATA to its DATA_DIR): %v", p, err)
	}
	return p
}

type realRef struct {
	FashionMNIST struct {
		PerClass         []int    `json:"per_class"`
		Class0First      []string `json:"class0_first"`
		Class5First      []string `json:"class5_first"`
		Class0FirstBase3 string   `json:"class0_first_base32"`
	} `json:"fashion_mnist"`
	Emoji struct {
		Classes    int      `json:"classes"`
		FirstImage string   `json:"first_image"`
		TrainFirst string   `json:"train_first"`
		TestFirst  string   `json:"test_first"`
		FirstBase  []string `json:"first_base32"`
	} `json:"emoji"`
}

func loadRealRef(t *testing.T) realRef {
	b, err := os.ReadFile("testdata/realdata_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var r realRef
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestFashionMNIST(t *testing.T) {
	root := dataDir(t, "fashion-mnist")
	ref := loadRealRef(t)
	l, err := list(KindIDX, readOptions{root: root})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.splits) != 2 || len(l.splits[0].classes) != 5 || l.splits[1].classes[0].name != "5" {
		t.Fatalf("split: %v", shapeNames(l))
	}
	for i, s := range l.splits {
		for j, c := range s.classes {
			if len(c.samples) != ref.FashionMNIST.PerClass[5*i+j] {
				t.Fatalf("class %s: %d images, want %d", c.name, len(c.samples), ref.FashionMNIST.PerClass[5*i+j])
			}
		}
	}
	t.Setenv(StatCacheEnv, "off")
	// base 28 = the original size: the stored images are the IDX pixels replicated to RGB.
	out := t.TempDir()
	o := Options{Kind: KindIDX, Root: root, Base: 28, Crop: 24, SubsetClasses: 1, SubsetPerClass: 2}
	m, err := Prepare(context.Background(), o, out, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Splits["train"].N != 2 || m.Splits["test"].N != 2 || m.Digest == "" {
		t.Fatalf("manifest %+v", m)
	}
	p, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for split, want := range map[string][]string{"train": ref.FashionMNIST.Class0First, "test": ref.FashionMNIST.Class5First} {
		s, _ := p.Split(split)
		for k := 0; k < 2; k++ {
			g := unb64(t, want[k])
			img := s.Image(k)
			for i, v := range g {
				if img[3*i] != v || img[3*i+1] != v || img[3*i+2] != v {
					t.Fatalf("%s image %d pixel %d = %v, want grey %d", split, k, i, img[3*i:3*i+3], v)
				}
			}
		}
	}
	// base 32: PIL bilinear upsampling of the first class-0 image.
	out = t.TempDir()
	o.Base, o.Crop = 32, 28
	if _, err := Prepare(context.Background(), o, out, nil, nil); err != nil {
		t.Fatal(err)
	}
	p2, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	s, _ := p2.Split("train")
	if m, n := maxDiff(s.Image(0), unb64(t, ref.FashionMNIST.Class0FirstBase3)); m != 0 {
		t.Fatalf("upsampled image: max |diff| %d over %d bytes", m, n)
	}
}

func shapeNames(l *listing) map[string][]string {
	out := map[string][]string{}
	for _, s := range l.splits {
		for _, c := range s.classes {
			out[s.name] = append(out[s.name], c.name)
		}
	}
	return out
}

func TestEmoji(t *testing.T) {
	root := dataDir(t, "emoji")
	ref := loadRealRef(t)
	l, err := list(KindEmoji, readOptions{root: root, vendors: []string{"google", "twitter"}})
	if err != nil {
		t.Fatal(err)
	}
	tr, te := l.splits[0].classes, l.splits[1].classes
	if len(tr)+len(te) != ref.Emoji.Classes || len(tr) != ref.Emoji.Classes/2 {
		t.Fatalf("%d + %d classes, want %d", len(tr), len(te), ref.Emoji.Classes)
	}
	if tr[0].name != ref.Emoji.TrainFirst || te[0].name != ref.Emoji.TestFirst || len(tr[0].samples) != 2 {
		t.Fatalf("first classes %q %q", tr[0].name, te[0].name)
	}
	t.Setenv(StatCacheEnv, "off")
	out := t.TempDir()
	o := Options{Kind: KindEmoji, Root: root, Base: 32, Crop: 28, SubsetClasses: 3, SubsetPerClass: 2, Vendors: []string{"google", "twitter"}}
	if _, err := Prepare(context.Background(), o, out, nil, nil); err != nil {
		t.Fatal(err)
	}
	p, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s, _ := p.Split("train")
	if s.Len() != 6 || s.NumClasses() != 3 {
		t.Fatalf("train %d images %d classes", s.Len(), s.NumClasses())
	}
	// PIL: alpha_composite over white, convert RGB, Resize(32) + CenterCrop(32). Our
	// compositing rounds once where PIL's fixed-point blend may differ by a level.
	for k := 0; k < 2; k++ {
		if m, n := maxDiff(s.Image(k), unb64(t, ref.Emoji.FirstBase[k])); m > 1 {
			t.Fatalf("vendor %d image: max |diff| %d (%d bytes differ)", k, m, n)
		}
	}
	if _, err := list(KindEmoji, readOptions{root: root, vendors: []string{"nokia"}}); err == nil {
		t.Fatal("unknown vendor accepted")
	}
}
