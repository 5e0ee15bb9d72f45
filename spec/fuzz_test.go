package spec

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// The property of both fuzzers: decoding never panics, and every error diagnostic has a
// subject range inside the file, so that it can be shown at file:line:col. For YAML, whose
// positions spec computes itself, each position's line must also agree with its byte offset.
//
// The seeds include testdata/invalid's nesting and budget cases and, in testdata/fuzz,
// source nested past the limit in every way that counts, so that mutations explore both
// sides of the limits. The fuzzers run with a budget of fuzzBudget values instead of
// evalBudget, so that an input that spends it costs milliseconds, not a tenth of a second.
const fuzzBudget = 20000

func FuzzParseHCL(f *testing.F) {
	addSeeds(f, "*.hcl")
	f.Fuzz(func(t *testing.T, src []byte) { checkFuzz(t, "fuzz.hcl", src) })
}

func FuzzParseYAML(f *testing.F) {
	addSeeds(f, "*.yaml")
	f.Fuzz(func(t *testing.T, src []byte) { checkFuzz(t, "fuzz.yaml", src) })
}

// addSeeds adds the valid and invalid example files; testdata/fuzz/<FuzzName>/ holds
// further seeds in the go fuzz corpus format.
func addSeeds(f *testing.F, pattern string) {
	for _, dir := range []string{"testdata/valid", "testdata/invalid"} {
		files, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, p := range files {
			src, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(src)
		}
	}
}

func checkFuzz(t *testing.T, name string, src []byte) {
	yamlFile := filepath.Ext(name) == ".yaml"
	exp, diags := Parse(name, src, LoadOptions{Registry: testRegistry, LookupEnv: noEnv, evalBudget: fuzzBudget})
	if exp == nil {
		t.Fatal("nil Experiment")
	}
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		r := d.Subject
		if r == nil {
			t.Fatalf("error without a subject: %s: %s", d.Summary, d.Detail)
		}
		if r.Filename != name || r.Start.Line < 1 || r.Start.Byte < 0 || r.End.Byte < r.Start.Byte || r.End.Byte > len(src) {
			t.Fatalf("bad subject %#v for %s: %s (source %d bytes)", r, d.Summary, d.Detail, len(src))
		}
		if !yamlFile {
			continue // hclsyntax's own positions drift on invalid UTF-8; only ours are checked
		}
		for _, p := range []hcl.Pos{r.Start, r.End} {
			if lines := bytes.Count(src[:p.Byte], []byte("\n")); lines != p.Line-1 {
				t.Fatalf("subject %#v of %s: line %d disagrees with byte %d (line %d)", r, d.Summary, p.Line, p.Byte, lines+1)
			}
		}
	}
	if !diags.HasErrors() {
		for _, n := range exp.Nodes {
			if n.Params == nil {
				t.Fatalf("node %s without params", n.Addr)
			}
		}
	}
	_ = WriteDiagnostics(discard{}, exp.Files, diags, 80, false)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
