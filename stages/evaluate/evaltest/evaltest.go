// Package evaltest builds tiny evaluate-side artifacts for tests of the packages that read
// them (stages/evaluate, stages/report, internal/cli/diff): a prepared dataset whose images
// are solid colours, so that a test can tell from a pixel which image a picture shows.
// It writes dataset.json and a shard in the layout docs/ARTIFACTS.md gives (load.Open
// checks it when the code under test opens it); it is not a dataset stage.
package evaltest

import (
	"encoding/json"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dmlrun/safetensors"
)

// Base and Crop are the tiny dataset's stored and evaluated image sizes.
const (
	Base = 12
	Crop = 8
)

// Colour is image i's colour: distinct for i < 1000, and none of them is white or one of
// the picture borders' colours (gallery.QueryColour, HitColour, MissColour).
func Colour(i int) color.RGBA {
	return color.RGBA{uint8(40 + (i*53)%180), uint8(30 + (i*97)%150), uint8(60 + (i*29)%190), 255}
}

// WriteDataset writes a prepared dataset with one split into dir: image i is a solid
// Colour(i), of class labels[i]; classes names the classes. It returns dir.
func WriteDataset(t testing.TB, dir, split string, classes []string, labels []int64) string {
	t.Helper()
	n := len(labels)
	pix := make([]uint8, n*Base*Base*3)
	index := make([]int64, n)
	var files strings.Builder
	for i := range n {
		c := Colour(i)
		for p := range Base * Base {
			o := (i*Base*Base + p) * 3
			pix[o], pix[o+1], pix[o+2] = c.R, c.G, c.B
		}
		index[i] = int64(i)
		fmt.Fprintf(&files, "img/%s/%03d.png\t%064d\n", classes[labels[i]], i, i)
	}
	img, err := safetensors.U8("images", pix, int64(n), Base, Base, 3)
	if err != nil {
		t.Fatal(err)
	}
	lab, err := safetensors.I64("labels", labels, int64(n))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := safetensors.I64("index", index, int64(n))
	if err != nil {
		t.Fatal(err)
	}
	shard := split + "-00000.safetensors"
	if err := safetensors.Write(filepath.Join(dir, shard), []safetensors.Tensor{img, lab, idx}, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, split+".files.txt"), []byte(files.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	manifest := map[string]any{
		"format": 1, "kind": "folder", "root": "testdata", "digest": "sha256:test",
		"protocol": map[string]any{"base": Base, "crop": Crop, "mean": []float64{0.5, 0.5, 0.5}, "std": []float64{0.25, 0.25, 0.25}, "bgr": false},
		"splits":   map[string]any{split: map[string]any{"n": n, "classes": classes, "shards": []string{shard}, "files": split + ".files.txt"}},
	}
	b, err := json.MarshalIndent(manifest, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dataset.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
