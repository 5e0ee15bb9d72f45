// Package experiments_test checks the committed experiment files: every file validates
// against the real stages, and the YAML twin of cub200.hcl has the same content keys.
package experiments_test

import (
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dmlrun/pipeline"
	"dmlrun/spec"
	"dmlrun/stage"
	"dmlrun/stages/embed"
	"dmlrun/stages/evaluate"
	dataset "dmlrun/stages/load"
	"dmlrun/stages/report"
	"dmlrun/stages/train"
)

// dmlrunStages is the registry cmd/dmlrun builds: every stage the program links.
func dmlrunStages(t testing.TB) *stage.Registry {
	t.Helper()
	r, err := stage.NewRegistry(dataset.Def(), train.Def(), embed.Def(), evaluate.Def(), report.Def())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func load(t *testing.T, path string, vars map[string]string) *spec.Experiment {
	t.Helper()
	exp, diags := spec.Load(path, spec.LoadOptions{Registry: dmlrunStages(t), Vars: vars, LookupEnv: func(string) (string, bool) { return "", false }})
	if diags.HasErrors() {
		var b strings.Builder
		_ = spec.WriteDiagnostics(&b, exp.Files, diags, 0, false)
		t.Fatalf("%s:\n%s", path, b.String())
	}
	return exp
}

func TestEveryExperimentValidates(t *testing.T) {
	files, err := filepath.Glob("*.hcl")
	if err != nil {
		t.Fatal(err)
	}
	yamls, _ := filepath.Glob("*.yaml")
	files = append(files, yamls...)
	if len(files) < 6 {
		t.Fatalf("found only %v; want cub200, cars196, sop, quickstart, ci (.hcl) and cub200.yaml", files)
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			exp := load(t, f, nil)
			if len(exp.Nodes) == 0 {
				t.Fatalf("%s declares no nodes", f)
			}
		})
	}
}

// writeCUBLayout makes a tiny folder in the CUB200 layout: <root>/cub200/images/<NNN.Name>/.
func writeCUBLayout(t *testing.T, root string) {
	t.Helper()
	for i, class := range []string{"001.Black_footed_Albatross", "002.Laysan_Albatross", "003.Sooty_Albatross", "004.Groove_billed_Ani"} {
		dir := filepath.Join(root, "cub200", "images", class)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for j := 0; j < 2; j++ {
			img := image.NewRGBA(image.Rect(0, 0, 8, 8))
			img.Set(j, i, color.RGBA{uint8(40 * i), uint8(90 * j), 7, 255})
			f, err := os.Create(filepath.Join(dir, "img"+string(rune('a'+j))+".png"))
			if err != nil {
				t.Fatal(err)
			}
			if err := png.Encode(f, img); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
}

func keys(t *testing.T, exp *spec.Experiment) map[string]string {
	t.Helper()
	g, err := pipeline.Build(dmlrunStages(t), pipeline.FromSpec(exp), pipeline.BuildOptions{Context: context.Background()})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, n := range g.Nodes {
		if n.KeyErr != nil {
			t.Fatalf("%s: no key: %v", n.Addr, n.KeyErr)
		}
		out[n.Addr] = n.Key
	}
	return out
}

// The YAML twin must mean exactly what the HCL file means: identical node keys.
func TestCUB200YAMLTwinHasTheSameKeys(t *testing.T) {
	root := t.TempDir()
	writeCUBLayout(t, root)
	// The weights file enters the train keys by its content; any bytes do for this test.
	if err := os.MkdirAll(filepath.Join(root, "weights"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "weights", "resnet50-19c8e357.pth"), []byte("not real weights"), 0o644); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"data_root": root}
	h := keys(t, load(t, "cub200.hcl", vars))
	y := keys(t, load(t, "cub200.yaml", vars))
	if len(h) != 77 {
		t.Errorf("cub200.hcl: %d nodes, want 77 (1 dataset, 5 variants x 5 seeds x (train, embed, evaluate), 1 report)", len(h))
	}
	for addr, k := range h {
		if y[addr] != k {
			t.Errorf("%s: key %s in HCL, %q in YAML", addr, k, y[addr])
		}
	}
	for addr := range y {
		if _, ok := h[addr]; !ok {
			t.Errorf("%s only in the YAML twin", addr)
		}
	}
}
