package experiments_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"dmlrun/internal/golden"
	"dmlrun/pipeline"
	"dmlrun/stage"
)

// TestKeysArePinned records the content key of every node of every committed experiment
// file in testdata/keys.golden, so that a refactoring that changes keys (and would make
// every cached result recompute) shows up as a reviewed diff. The external content a key
// covers (dataset folders, weights files) is not on this machine for most files, so a fixed
// answer stands in for every KeyInputs hook.
func TestKeysArePinned(t *testing.T) {
	files, err := filepath.Glob("*.hcl")
	if err != nil {
		t.Fatal(err)
	}
	yamls, _ := filepath.Glob("*.yaml")
	files = append(files, yamls...)
	sort.Strings(files)
	fixed := func(kind string, _ stage.Params) (string, error) { return "fixed-content-of-a-" + kind, nil }
	var b strings.Builder
	for _, f := range files {
		exp := load(t, f, nil)
		g, err := pipeline.Build(dmlrunStages(t), pipeline.FromSpec(exp), pipeline.BuildOptions{Context: context.Background(), KeyInputs: fixed})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "# %s\n", f)
		for _, n := range g.Nodes {
			if n.KeyErr != nil {
				t.Fatalf("%s %s: %v", f, n.Addr, n.KeyErr)
			}
			fmt.Fprintf(&b, "%s %s\n", n.Key, n.Addr)
		}
	}
	golden.Compare(t, "testdata/keys.golden", []byte(b.String()))
}

// TestDatasetPathSpellingIsNotInTheKey: the dataset folder's content is in the key, so the
// way its path is written must not be (`-var data_root=./data` used to re-run everything
// because data/emoji became ./data/emoji).
func TestDatasetPathSpellingIsNotInTheKey(t *testing.T) {
	dir := t.TempDir()
	writeCUBLayout(t, dir)
	if err := os.MkdirAll(filepath.Join(dir, "weights"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "weights", "resnet50-19c8e357.pth"), []byte("not real weights"), 0o644); err != nil {
		t.Fatal(err)
	}
	file, err := filepath.Abs("cub200.hcl")
	if err != nil {
		t.Fatal(err)
	}
	abs := keys(t, load(t, file, map[string]string{"data_root": dir}))
	t.Chdir(filepath.Dir(dir))
	rel := "./" + filepath.Base(dir) + "/../" + filepath.Base(dir) + "/."
	other := keys(t, load(t, file, map[string]string{"data_root": rel}))
	if len(abs) == 0 || len(abs) != len(other) {
		t.Fatalf("%d and %d nodes", len(abs), len(other))
	}
	for addr, k := range abs {
		if other[addr] != k {
			t.Errorf("%s: key %.12s with data_root=%s, %.12s with data_root=%s", addr, k, dir, other[addr], rel)
		}
	}
}
