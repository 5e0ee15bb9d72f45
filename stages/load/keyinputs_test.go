package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dmlrun/pipeline"
	"dmlrun/stage"
	"dmlrun/store"
)

// noRacyWindow lets the stat cache trust files written just now (tests cannot wait two
// seconds for the real window to pass).
func noRacyWindow(t *testing.T) {
	t.Helper()
	old := racyWindow
	racyWindow = 0
	t.Cleanup(func() { racyWindow = old })
}

// writeCUB writes a cub200 layout: 4 classes of 3 images each.
func writeCUB(t *testing.T, root string) {
	t.Helper()
	for i, c := range []string{"001.Albatross", "002.Auklet", "003.Blackbird", "004.Bunting"} {
		for k := range 3 {
			writeImage(t, filepath.Join(root, "images", c, fmt.Sprintf("%s_%d.png", c[4:], k)), 10+k, 8, color.RGBA{uint8(50 * i), uint8(20 * k), 90, 255})
		}
	}
}

// fixtures builds one small dataset per kind and returns the options that read it.
func fixtures(t *testing.T) map[string]Options {
	t.Helper()
	out := map[string]Options{}
	root := t.TempDir()
	writeCUB(t, root)
	out[KindCUB200] = Options{Kind: KindCUB200, Root: root}

	root = t.TempDir()
	for i, c := range []string{"Audi A4 2012", "BMW M3 2010", "Fiat 500 2012"} {
		for k := range 2 {
			writeImage(t, filepath.Join(root, "images", c, fmt.Sprintf("%05d.jpg", k)), 9, 9, color.RGBA{uint8(70 * i), 5, uint8(100 * k), 255})
		}
	}
	out[KindCars196] = Options{Kind: KindCars196, Root: root}

	root = t.TempDir()
	writeText(t, filepath.Join(root, "Info_Files", "Ebay_train.txt"), sopHeader+
		"1 7 1 bicycle_final/111_0.jpg\n2 3 1 bicycle_final/222_0.jpg\n3 7 1 bicycle_final/111_1.jpg\n")
	writeText(t, filepath.Join(root, "Info_Files", "Ebay_test.txt"), sopHeader+
		"1 9 2 chair_final/444_0.jpg\n2 2 2 chair_final/555_0.jpg\n")
	for k, p := range []string{"bicycle_final/111_0.jpg", "bicycle_final/222_0.jpg", "bicycle_final/111_1.jpg", "chair_final/444_0.jpg", "chair_final/555_0.jpg"} {
		writeImage(t, filepath.Join(root, "images", p), 8, 10, color.RGBA{uint8(40 * k), 7, 7, 255})
	}
	out[KindSOP] = Options{Kind: KindSOP, Root: root}

	out[KindFolder] = Options{Kind: KindFolder, Root: prepareFolder(t)}

	root = t.TempDir()
	writeIDXSet(t, root)
	out[KindIDX] = Options{Kind: KindIDX, Root: root}

	root = t.TempDir()
	js := `[
 {"unified":"A","short_name":"a","image":"a.png","sort_order":3,"has_img_g":true,"has_img_t":true},
 {"unified":"B","short_name":"b","image":"b.png","sort_order":1,"has_img_g":true,"has_img_t":true},
 {"unified":"C","short_name":"c","image":"c.png","sort_order":2,"has_img_g":true,"has_img_t":false},
 {"unified":"D","short_name":"d","image":"d.png","sort_order":0,"has_img_g":true,"has_img_t":true}]`
	for _, v := range []string{"g", "t", "x"} {
		writeText(t, filepath.Join(root, v, "package", "emoji.json"), js)
		for i, n := range []string{"a", "b", "c", "d"} {
			writeImage(t, filepath.Join(root, v, "package", "img", v, "64", n+".png"), 4, 4, color.RGBA{uint8(60 * i), 0, 0, 255})
		}
	}
	out[KindEmoji] = Options{Kind: KindEmoji, Root: root, Vendors: []string{"g", "t"}}
	for k, o := range out {
		o.Base, o.Crop = 8, 6
		out[k] = o
	}
	return out
}

// TestDigestMatchesPrepare: for every kind, the digest that enters the key (Digest, which
// does not decode anything) is the digest Prepare computes and records; it covers the files
// the reader reads and only those.
func TestDigestMatchesPrepare(t *testing.T) {
	t.Setenv(StatCacheEnv, filepath.Join(t.TempDir(), "statcache.json"))
	noRacyWindow(t)
	// A file of each kind that the reader does not read: changing it must not change the
	// digest. A file it reads: changing it must.
	unread := map[string]string{
		KindCUB200:  "README.txt",
		KindCars196: "devkit/cars_meta.mat",
		KindSOP:     "images/bicycle_final/999_0.jpg", // not in the info files
		KindFolder:  "a/notes.txt",                    // not an image extension
		KindIDX:     "README.md",
		KindEmoji:   "x/package/img/x/64/a.png", // vendor x is not selected
	}
	read := map[string]string{
		KindCUB200:  "images/003.Blackbird/Blackbird_1.png",
		KindCars196: "images/Fiat 500 2012/00001.jpg",
		KindSOP:     "Info_Files/Ebay_test.txt",
		KindFolder:  "e/2.jpg",
		KindIDX:     "t10k-labels-idx1-ubyte",
		KindEmoji:   "t/package/emoji.json",
	}
	for kind, o := range fixtures(t) {
		t.Run(kind, func(t *testing.T) {
			d, err := Digest(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			m, err := Prepare(context.Background(), o, t.TempDir(), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if m.Digest != d {
				t.Fatalf("Digest %s, Prepare recorded %s", d, m.Digest)
			}
			writeText(t, filepath.Join(o.Root, unread[kind]), "not part of the dataset")
			if d2, err := Digest(context.Background(), o); err != nil || d2 != d {
				t.Errorf("changing %s (not read by the reader) changed the digest: %v", unread[kind], err)
			}
			p := filepath.Join(o.Root, read[kind])
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(p, append(b, '\n'), 0o644) // trailing bytes: every reader still accepts it
			if d3, err := Digest(context.Background(), o); err != nil || d3 == d {
				t.Errorf("changing %s did not change the digest (err %v)", read[kind], err)
			}
		})
	}
}

func TestDigestSubset(t *testing.T) {
	t.Setenv(StatCacheEnv, "off")
	o := fixtures(t)[KindCUB200]
	o.SubsetClasses, o.SubsetPerClass = 1, 2
	d, err := Digest(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	// Train keeps class 001 (images 0, 1), test keeps 003 (images 0, 1).
	writeImage(t, filepath.Join(o.Root, "images", "001.Albatross", "Albatross_2.png"), 30, 30, color.RGBA{1, 2, 3, 255})
	writeImage(t, filepath.Join(o.Root, "images", "002.Auklet", "Auklet_0.png"), 30, 30, color.RGBA{1, 2, 3, 255})
	if d2, _ := Digest(context.Background(), o); d2 != d {
		t.Error("changing images outside the subset changed the digest")
	}
	writeImage(t, filepath.Join(o.Root, "images", "003.Blackbird", "Blackbird_1.png"), 30, 30, color.RGBA{1, 2, 3, 255})
	if d3, _ := Digest(context.Background(), o); d3 == d {
		t.Error("changing an image in the subset did not change the digest")
	}
}

// TestStatCacheIdentity: a file replaced by one with the same size and mtime (cp -p,
// rsync -a) is re-read because its inode and ctime differ; a file written within the racy
// window of its hashing is not trusted.
func TestStatCacheIdentity(t *testing.T) {
	root := prepareFolder(t)
	l, err := list(KindFolder, readOptions{root: root})
	if err != nil {
		t.Fatal(err)
	}
	c := openStatCache("")
	d1, _, _ := datasetDigest(context.Background(), l, c, nil)
	if _, st, _ := datasetDigest(context.Background(), l, c, nil); st.CacheHits != 0 {
		t.Errorf("%d files just written were trusted inside the racy window", st.CacheHits)
	}
	noRacyWindow(t)
	datasetDigest(context.Background(), l, c, nil)
	if _, st, _ := datasetDigest(context.Background(), l, c, nil); st.CacheHits != st.Files {
		t.Fatalf("%d of %d hits outside the racy window", st.CacheHits, st.Files)
	}
	p := filepath.Join(root, "c", "1.png")
	fi, _ := os.Stat(p)
	b, _ := os.ReadFile(p)
	b[len(b)-5] ^= 0xff // same size, other bytes
	tmp := p + ".new"
	os.WriteFile(tmp, b, 0o644)
	os.Chtimes(tmp, fi.ModTime(), fi.ModTime())
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
	d2, st, err := datasetDigest(context.Background(), l, c, nil)
	if err != nil || d2 == d1 || st.CacheHits != st.Files-1 {
		t.Errorf("same size and mtime, new bytes: digest changed %v, hits %d of %d, err %v", d2 != d1, st.CacheHits, st.Files, err)
	}
}

// datasetParams fills the dataset stage's schema defaults as spec would.
func datasetParams(kind, root string) stage.Params {
	p := stage.Params{}
	for _, d := range Def().Params {
		if d.Default != nil {
			p[d.Name] = d.Default
		}
	}
	p["kind"], p["root"], p["base"], p["crop"] = kind, root, int64(8), int64(6)
	return p
}

type pipe struct {
	t   *testing.T
	st  *store.Store
	exp string
}

func (p *pipe) build(params stage.Params) *pipeline.Graph {
	p.t.Helper()
	stages, err := stage.NewRegistry(Def())
	if err != nil {
		p.t.Fatal(err)
	}
	g, err := pipeline.Build(stages, []pipeline.Decl{{Addr: "dataset.cub", Kind: "dataset", Name: "cub", Params: params}}, pipeline.BuildOptions{})
	if err != nil {
		p.t.Fatal(err)
	}
	return g
}

func (p *pipe) plan(g *pipeline.Graph) pipeline.PlanNode {
	p.t.Helper()
	pl, err := pipeline.MakePlan(g, p.st, p.exp, "exp.hcl", nil)
	if err != nil {
		p.t.Fatal(err)
	}
	return pl.Nodes[0]
}

func (p *pipe) apply(g *pipeline.Graph) error {
	p.t.Helper()
	pl, err := pipeline.MakePlan(g, p.st, p.exp, "exp.hcl", nil)
	if err != nil {
		p.t.Fatal(err)
	}
	ex := &pipeline.Executor{Store: p.st, Experiment: p.exp, Jobs: 1, Device: "cpu", Threads: 1}
	_, err = ex.Apply(context.Background(), g, pl)
	return err
}

// TestKeyCoversDatasetContent runs the real dataset stage through the pipeline with a
// relative root (resolved against the working directory): a missing folder plans and
// fails apply at once; changing an image's bytes changes the key and plan says why;
// touching its mtime does not; a pinned digest is checked at plan time.
func TestKeyCoversDatasetContent(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv(StatCacheEnv, filepath.Join(dir, "statcache.json"))
	noRacyWindow(t)
	st, err := store.Open(filepath.Join(dir, "results"))
	if err != nil {
		t.Fatal(err)
	}
	p := &pipe{t: t, st: st, exp: filepath.Join(dir, "exp.hcl")}
	params := datasetParams(KindCUB200, "data/cub200")
	abs := filepath.Join(dir, "data", "cub200")

	// Root present, images/ missing: plan works and names the path and the layout.
	os.MkdirAll(abs, 0o755)
	g := p.build(params)
	pn := p.plan(g)
	want := "cannot read dataset: cub200: open " + filepath.Join(abs, "images") +
		": no such file or directory; expected layout <root>/images/<NNN.Class>/<image>"
	if pn.Action != pipeline.Create || !pn.KeyUnknown || pn.Reason != want {
		t.Fatalf("plan of a missing folder: %s %q, want create %q", pn.Action, pn.Reason, want)
	}
	err = p.apply(g)
	var re *ReadError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), want) {
		t.Fatalf("apply of a missing folder: %v", err)
	}
	if keys, _ := st.Keys(); len(keys) != 0 {
		t.Errorf("apply stored %v", keys)
	}
	if tmp, _ := os.ReadDir(filepath.Join(dir, "results", "tmp")); len(tmp) != 0 {
		t.Errorf("apply started a node: tmp holds %d entries", len(tmp))
	}

	// The folder appears: apply computes it, with the digest in the manifest and dataset.json.
	writeCUB(t, abs)
	g1 := p.build(params)
	if err := p.apply(g1); err != nil {
		t.Fatal(err)
	}
	n1 := g1.Node("dataset.cub")
	art, err := st.Get(n1.Key)
	if err != nil {
		t.Fatal(err)
	}
	prep, err := Open(art.Dir)
	if err != nil {
		t.Fatal(err)
	}
	prep.Close()
	if !strings.HasPrefix(n1.KeyInputs, "sha256:") || art.Manifest.KeyInputs != n1.KeyInputs || prep.Manifest.Digest != n1.KeyInputs {
		t.Errorf("key_inputs %q, manifest %q, dataset.json %q", n1.KeyInputs, art.Manifest.KeyInputs, prep.Manifest.Digest)
	}

	// Touching an image's mtime without changing its bytes keeps the key.
	img := filepath.Join(abs, "images", "002.Auklet", "Auklet_1.png")
	later := time.Now().Add(time.Hour)
	os.Chtimes(img, later, later)
	if pn := p.plan(p.build(params)); pn.Key != n1.Key || pn.Action != pipeline.Cached {
		t.Errorf("after touching an image: %s %s, want cached under the same key", pn.Action, pn.Reason)
	}

	// Changing one image's bytes makes a new key, and plan says why.
	b, _ := os.ReadFile(img)
	b[len(b)-9] ^= 0x01 // inside the IEND/IDAT trailer region: still the same size
	os.WriteFile(img, b, 0o644)
	pn = p.plan(p.build(params))
	if pn.Key == n1.Key || pn.Action != pipeline.Rerun || pn.Reason != "dataset content changed" {
		t.Errorf("after changing an image: key same %v, %s %q", pn.Key == n1.Key, pn.Action, pn.Reason)
	}

	// A pinned digest: the right one keys as usual, a wrong one fails at plan time.
	d, err := Digest(context.Background(), Options{Kind: KindCUB200, Root: "data/cub200"})
	if err != nil {
		t.Fatal(err)
	}
	pinned := datasetParams(KindCUB200, "data/cub200")
	pinned["digest"] = d
	if n := p.build(pinned).Node("dataset.cub"); n.KeyErr != nil || n.KeyInputs != d {
		t.Errorf("correct pin: %v", n.KeyErr)
	}
	pinned["digest"] = n1.KeyInputs // the old content's digest
	gp := p.build(pinned)
	var dm *DigestMismatchError
	if err := gp.Node("dataset.cub").KeyErr; !errors.As(err, &dm) {
		t.Errorf("stale pin: %v, want a DigestMismatchError", err)
	}
	if err := p.apply(gp); !errors.As(err, &dm) {
		t.Errorf("apply with a stale pin: %v", err)
	}
}

// changer is a Progress that runs a function when a bar with a given label starts: the
// digest bar starts after listing, the decode bars after digesting.
type changer struct {
	label string
	do    func()
}

func (c *changer) Start(l string, n int64) stage.Bar {
	if l == c.label && c.do != nil {
		c.do()
		c.do = nil
	}
	return recBar{}
}

func TestChangedDuringApply(t *testing.T) {
	t.Setenv(StatCacheEnv, filepath.Join(t.TempDir(), "statcache.json"))
	noRacyWindow(t)
	fx := fixtures(t)
	var ce *ChangedError

	// The key was made from other content.
	o := fx[KindFolder]
	o.Expect = "sha256:" + strings.Repeat("0", 64)
	_, err := Prepare(context.Background(), o, t.TempDir(), nil, nil)
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "dataset changed during apply") {
		t.Fatalf("expected digest differs: %v", err)
	}
	o.Expect, _ = Digest(context.Background(), o)
	if _, err := Prepare(context.Background(), o, t.TempDir(), nil, nil); err != nil {
		t.Fatalf("expected digest matches: %v", err)
	}

	// An image rewritten after the digest, before decoding: an error even with skip_corrupt.
	o.Expect, o.SkipCorrupt = "", true
	img := filepath.Join(o.Root, "a", "2.jpg")
	ch := &changer{label: "decode train", do: func() { writeImage(t, img, 20, 20, color.RGBA{0, 0, 0, 255}) }}
	_, err = Prepare(context.Background(), o, t.TempDir(), nil, ch)
	if !errors.As(err, &ce) || ce.Path != img {
		t.Fatalf("image changed before decoding: %v", err)
	}

	// An info file rewritten between listing and digesting.
	o = fx[KindSOP]
	info := filepath.Join(o.Root, "Info_Files", "Ebay_test.txt")
	ch = &changer{label: "digest online_products", do: func() {
		writeText(t, info, sopHeader+"1 2 2 chair_final/555_0.jpg\n2 9 2 chair_final/444_0.jpg\n")
	}}
	_, err = Prepare(context.Background(), o, t.TempDir(), nil, ch)
	if !errors.As(err, &ce) || ce.Path != info {
		t.Fatalf("info file changed after listing: %v", err)
	}
}

// TestStageRunChecksKey: the stage compares the digest with Context.KeyInputs.
func TestStageRunChecksKey(t *testing.T) {
	t.Setenv(StatCacheEnv, "off")
	d := Def()
	if d.KeyInputs == nil || d.KeyInputsName != "dataset content" {
		t.Fatal("dataset stage defined without its KeyInputs hook")
	}
	params := datasetParams(KindFolder, prepareFolder(t))
	ki, err := d.KeyInputs(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	ctx := &stage.Context{Context: context.Background(), Addr: "dataset.x", Params: params, OutDir: t.TempDir(),
		Log: &bytes.Buffer{}, Progress: &recProgress{}, KeyInputs: ki}
	if err := d.Run(ctx); err != nil {
		t.Fatal(err)
	}
	ctx.OutDir, ctx.KeyInputs = t.TempDir(), "sha256:"+strings.Repeat("1", 64)
	if err := d.Run(ctx); err == nil || !strings.Contains(err.Error(), "dataset.x: dataset changed during apply") {
		t.Fatalf("run with another key's digest: %v", err)
	}
}
