package train

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dmlrun/pipeline"
	"dmlrun/stage"
)

// TestKeyInputs: the weights file's SHA-256 enters the key only when pretrained is set and
// not_pretrained is false; a changed file changes it; a missing file is the hook's error,
// which the pipeline turns into a node without a key (plan shows it, apply refuses).
func TestKeyInputs(t *testing.T) {
	d := Def()
	if d.KeyInputs == nil || d.KeyInputsName != "pretrained weights" {
		t.Fatal("train stage defined without the KeyInputs hook")
	}
	dir := t.TempDir()
	w := filepath.Join(dir, "weights.pth")
	os.WriteFile(w, []byte("not really a state dict"), 0o644)
	want := sha256.Sum256([]byte("not really a state dict"))

	p := fill(Def().Params)
	ctx := t.Context()
	if got, err := d.KeyInputs(ctx, p); err != nil || got != "" {
		t.Fatalf("no pretrained: %q, %v", got, err)
	}
	p["pretrained"] = w
	got, err := d.KeyInputs(ctx, p)
	if err != nil || got != "sha256:"+hex.EncodeToString(want[:]) {
		t.Fatalf("pretrained: %q, %v", got, err)
	}
	p["not_pretrained"] = true
	if got, err := d.KeyInputs(ctx, p); err != nil || got != "" {
		t.Fatalf("not_pretrained wins: %q, %v", got, err)
	}
	p["not_pretrained"] = false
	// Same path, new content (and size): a new digest despite the cache.
	os.WriteFile(w, []byte("other weights"), 0o644)
	if again, err := d.KeyInputs(ctx, p); err != nil || again == got {
		t.Fatalf("changed file, same digest %q (%v)", again, err)
	}
	p["pretrained"] = filepath.Join(dir, "missing.pth")
	if _, err := d.KeyInputs(ctx, p); err == nil || !strings.Contains(err.Error(), "missing.pth") || !strings.Contains(err.Error(), "not_pretrained = true") {
		t.Fatalf("missing file: %v", err)
	}

	// Through the pipeline: the missing file leaves the node without a key, with the path
	// in the error; the file present gives a key that changes with its content.
	build := func(path string) *pipeline.Node {
		t.Helper()
		q := fill(Def().Params)
		q["pretrained"] = path
		stages, err := stage.NewRegistry(d)
		if err != nil {
			t.Fatal(err)
		}
		g, err := pipeline.Build(stages, []pipeline.Decl{{Addr: "train.r", Kind: "train", Name: "r", Params: q}}, pipeline.BuildOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return g.Node("train.r")
	}
	if n := build(filepath.Join(dir, "missing.pth")); n.KeyErr == nil || n.Key != "" || !strings.Contains(n.KeyErr.Error(), "missing.pth") {
		t.Fatalf("missing weights: key %q, error %v", n.Key, n.KeyErr)
	}
	k1 := build(w).Key
	os.WriteFile(w, []byte("third weights!"), 0o644)
	if n := build(w); n.KeyErr != nil || n.Key == "" || n.Key == k1 || n.KeyInputs == "" {
		t.Fatalf("keys %q then %q (%v)", k1, n.Key, n.KeyErr)
	}
}

// TestPretrainedChangedSinceKey: a weights file whose digest differs from the key's is
// refused before anything is loaded or trained.
func TestPretrainedChangedSinceKey(t *testing.T) {
	s := newSetup(t, 4, 4)
	w := filepath.Join(t.TempDir(), "w.pth")
	os.WriteFile(w, []byte("weights"), 0o644)
	s.params["pretrained"] = w
	ctx := s.ctx(t, t.TempDir(), false, nil)
	ctx.KeyInputs = "sha256:0000"
	if err := runTrain(ctx); err == nil || !strings.Contains(err.Error(), "changed since the plan was made") {
		t.Fatalf("got %v", err)
	}
}
