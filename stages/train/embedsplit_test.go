package train

import (
	"slices"
	"testing"

	"dmlrun/stages/load"
	"dmlrun/stages/models"
	"dmlrun/stages/train/traintest"
	"dmlrun/torch"
)

// TestEmbedderReusesBuffers: an Embedder gives EmbedSplit's embeddings and labels, split
// after split and call after call, and its second pass over a split writes into the
// first pass's memory.
func TestEmbedderReusesBuffers(t *testing.T) {
	dir := t.TempDir()
	traintest.WriteTinyDatasetSplits(t, dir, 6, 8, "train", "test", "val")
	p, err := load.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	torch.ManualSeed(3)
	m, err := models.New("smallcnn_normalize", 16, torch.CPUDevice)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
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
