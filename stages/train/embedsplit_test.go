package train

import (
	"math"
	"slices"
	"testing"

	"dmlrun/stages/load"
	"dmlrun/stages/models"
	"dmlrun/stages/train/traintest"
	"dmlrun/torch"
)

// tinyEmbedSetup opens a tiny prepared dataset with splits (6 classes, 8 images each) and a
// seeded smallcnn_normalize with 16-dimensional embeddings, both closed when t ends.
func tinyEmbedSetup(t *testing.T, splits ...string) (*load.Prepared, *models.Model) {
	t.Helper()
	dir := t.TempDir()
	traintest.WriteTinyDatasetSplits(t, dir, 6, 8, splits...)
	p, err := load.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	torch.ManualSeed(3)
	m, err := models.New("smallcnn_normalize", 16, torch.CPUDevice)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return p, m
}

// TestEmbedderReusesBuffers: an Embedder gives EmbedSplit's embeddings and labels, split
// after split and call after call, and its second pass over a split writes into the
// first pass's memory.
func TestEmbedderReusesBuffers(t *testing.T) {
	p, m := tinyEmbedSetup(t, "train", "test", "val")
	var e Embedder
	var first *float32
	for pass, sp := range []string{"test", "val", "test"} {
		s, err := p.Split(sp)
		if err != nil {
			t.Fatal(err)
		}
		wantX, wantY, err := EmbedSplit(m, s, 7, torch.CPUDevice, nil) // 48 images: a short last batch
		if err != nil {
			t.Fatal(err)
		}
		x, y, err := e.Embed(m, s, 7, torch.CPUDevice, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(x, wantX) || !slices.Equal(y, wantY) || len(x) != 48*16 {
			t.Fatalf("pass %d (%s): the Embedder's embeddings or labels differ from EmbedSplit's", pass, sp)
		}
		if pass == 0 {
			first = &x[0]
		} else if &x[0] != first {
			t.Fatalf("pass %d (%s) allocated new embeddings instead of reusing the buffer", pass, sp)
		}
	}
}

// TestEmbedderAutocast: with Autocast set every forward pass runs inside it (one call per
// batch), under bf16 the embeddings still come back as float32 values close to float32's,
// and without it nothing changes.
func TestEmbedderAutocast(t *testing.T) {
	skipWithoutCPUBF16Conv(t)
	p, m := tinyEmbedSetup(t, "train", "test")
	s, err := p.Split("test")
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := EmbedSplit(m, s, 7, torch.CPUDevice, nil)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	e := Embedder{Autocast: func(fn func()) {
		calls++
		torch.Autocast(torch.CPUDevice, torch.BFloat16, fn)
	}}
	got, _, err := e.Embed(m, s, 7, torch.CPUDevice, nil)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 7 { // 48 images in batches of 7
		t.Fatalf("Autocast ran %d times, want once per batch (7)", calls)
	}
	if len(got) != len(want) {
		t.Fatalf("%d values, want %d", len(got), len(want))
	}
	// bfloat16 keeps 8 significant bits (rounding 2^-9 relative per op); through smallcnn's
	// four convolutions and the head, unit-norm values stay far within 0.1 of float32's.
	// The bound says they are still the embeddings; a difference > 0 that bfloat16 ran.
	var maxDiff float64
	for i := range got {
		maxDiff = max(maxDiff, math.Abs(float64(got[i]-want[i])))
	}
	if maxDiff == 0 || maxDiff > 0.1 {
		t.Fatalf("largest difference to float32 %g: want bfloat16's rounding (0 < d <= 0.1)", maxDiff)
	}
}
