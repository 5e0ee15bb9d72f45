// Package traintest holds test helpers shared by the train and embed stages' tests: a tiny
// prepared dataset on disk and a progress reporter that draws nothing. It is for tests only
// and imports neither stage, so both can use it.
package traintest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"dmlrun/safetensors"
	"dmlrun/stage"
	"dmlrun/stages/load"
)

// Progress is a stage.Progress that draws nothing.
type Progress struct{}

type bar struct{}

func (Progress) Start(string, int64) stage.Bar { return bar{} }
func (bar) Add(int64)                          {}
func (bar) SetStatus(string)                   {}
func (bar) Finish()                            {}

// Recorder is a stage.Progress that remembers, for every bar, the status text current at
// each Add: what a line-printing bar shows when it prints on that Add (the apply command's
// plain-line bar prints when it reaches its total, before Finish). Safe for one goroutine.
type Recorder struct {
	Bars []*RecordedBar
}

// RecordedBar is one bar a Recorder started.
type RecordedBar struct {
	Label  string
	Total  int64
	Done   int64
	Status string   // the current status
	AtAdd  []string // the status at each Add, in order
}

func (r *Recorder) Start(label string, total int64) stage.Bar {
	b := &RecordedBar{Label: label, Total: total}
	r.Bars = append(r.Bars, b)
	return b
}

func (b *RecordedBar) Add(n int64) {
	b.Done += n
	b.AtAdd = append(b.AtAdd, b.Status)
}
func (b *RecordedBar) SetStatus(s string) { b.Status = s }
func (b *RecordedBar) Finish()            {}

// WriteTinyDataset writes a load artifact (dataset.json + one shard per split, the
// ARTIFACTS.md contract) into dir with `classes` train and `classes` other test classes of
// `per` images each: 40x40 images (crop 32) whose colour and stripe frequency depend on the
// class, plus noise.
func WriteTinyDataset(t testing.TB, dir string, classes, per int) {
	t.Helper()
	WriteTinyDatasetSplits(t, dir, classes, per, "train", "test")
}

// WriteTinyDatasetSplits is WriteTinyDataset with the given splits, in this order of
// "train", "test", "val" (the images come from one generator stream): each split has `classes` classes of its own (class-disjoint, as
// the val split load's val_split cuts from the training classes), and the images of train
// and test do not depend on whether val is there.
func WriteTinyDatasetSplits(t testing.TB, dir string, classes, per int, splits ...string) {
	t.Helper()
	const base = 40
	rng := load.NewPyRandom(7)
	man := load.Manifest{Format: 1, Kind: "synthetic", Root: "/nowhere", Digest: "sha256:test",
		Protocol: load.Protocol{Base: base, Crop: 32, Mean: [3]float64{0.485, 0.456, 0.406}, Std: [3]float64{0.229, 0.224, 0.225}},
		Splits:   map[string]*load.SplitInfo{}}
	for _, split := range splits {
		si := slices.Index([]string{"train", "test", "val"}, split)
		if si < 0 {
			t.Fatalf("WriteTinyDatasetSplits: split %q is not train, test or val", split)
		}
		var imgs []uint8
		var labels, index []int64
		var names []string
		for c := 0; c < classes; c++ {
			names = append(names, fmt.Sprintf("class%02d", c+si*classes))
			k := c + si*classes // test and val classes are new classes, as in DML benchmarks
			for i := 0; i < per; i++ {
				for y := 0; y < base; y++ {
					for x := 0; x < base; x++ {
						stripe := ((x + y*(k%3)) / (1 + k%4)) % 2
						for ch := 0; ch < 3; ch++ {
							v := 40 + 50*((k>>ch)&1)*2 + 60*stripe + int(rng.RandBelow(40))
							imgs = append(imgs, uint8(v))
						}
					}
				}
				labels = append(labels, int64(c))
				index = append(index, int64(len(index)))
			}
		}
		n := int64(len(labels))
		a, err := safetensors.U8("images", imgs, n, base, base, 3)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := safetensors.I64("labels", labels, n)
		c, _ := safetensors.I64("index", index, n)
		shard := split + "-00000.safetensors"
		if err := safetensors.Write(filepath.Join(dir, shard), []safetensors.Tensor{a, b, c}, nil); err != nil {
			t.Fatal(err)
		}
		files := split + "-files.txt"
		if err := os.WriteFile(filepath.Join(dir, files), []byte(strings.Repeat("x\n", int(n))), 0o644); err != nil {
			t.Fatal(err)
		}
		man.Splits[split] = &load.SplitInfo{N: int(n), Classes: names, Shards: []string{shard}, Files: files}
	}
	js, _ := json.Marshal(man)
	if err := os.WriteFile(filepath.Join(dir, "dataset.json"), js, 0o644); err != nil {
		t.Fatal(err)
	}
}

// pinned is the key material of one parameter: what makes canonical parameters (and so
// content keys), not its documentation or its validation rules.
type pinned struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Default  any      `json:"default"`
	Required bool     `json:"required,omitempty"`
	RefKind  string   `json:"ref_kind,omitempty"`
	Fields   []pinned `json:"fields,omitempty"`
	Variants bool     `json:"variants,omitempty"`
	GoType   string   `json:"go_type"`
}

func pin(ps []stage.Param) []pinned {
	var out []pinned
	for _, p := range ps {
		out = append(out, pinned{p.Name, p.Type.String(), p.Default, p.Required, p.RefKind, pin(p.Fields), p.Variants != nil, fmt.Sprintf("%T", p.Default)})
	}
	return out
}

// CheckParamsPinned fails t unless ps (a stage's parameters) have the names, order, types,
// Go types of defaults, defaults, required flags and reference kinds recorded for kind in
// the golden JSON file at path. The golden files were written from the hand-written
// schemas the typed configs replaced and are never regenerated: a difference changes the
// canonical parameters of every node of the stage, so its content keys. A parameter added
// on purpose is written into the file by hand.
func CheckParamsPinned(t testing.TB, path, kind string, ps []stage.Param) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b, err := json.Marshal(map[string]any{kind: pin(ps)})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got[kind], want[kind]) {
		pretty, _ := json.MarshalIndent(pin(ps), "", "  ")
		t.Fatalf("%s parameters differ from %s (key material changed):\n%s", kind, path, pretty)
	}
}

// Defaults returns the parameters a stage's schema fills in when a block sets nothing:
// every default, objects filled recursively; references and variant blocks are left out.
func Defaults(ps []stage.Param) stage.Params {
	out := stage.Params{}
	for _, p := range ps {
		switch {
		case p.Type == stage.Object && p.Variants == nil:
			out[p.Name] = map[string]any(Defaults(p.Fields))
		case p.Default != nil && p.Variants == nil:
			out[p.Name] = p.Default
		}
	}
	return out
}
