package spec

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/<name>, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./spec -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		gl, wl := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
		i := 0
		for i < len(gl) && i < len(wl) && bytes.Equal(gl[i], wl[i]) {
			i++
		}
		line := func(ls [][]byte) string {
			if i < len(ls) {
				return string(ls[i])
			}
			return "<end of file>"
		}
		t.Errorf("%s differs from the output at line %d:\n got: %s\nwant: %s\nRerun with -update and review the diff.",
			path, i+1, line(gl), line(wl))
	}
}

// TestDiagnosticsGolden renders the diagnostics of every invalid case, text with snippets
// as `dmlrun validate` prints them, so that message changes show up in review.
func TestDiagnosticsGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*")
	var buf bytes.Buffer
	for _, path := range files {
		exp, diags := Load(path, LoadOptions{LookupEnv: noEnv})
		fmt.Fprintf(&buf, "==== %s (%d diagnostics)\n", path, len(diags))
		if err := WriteDiagnostics(&buf, exp.Files, diags, 100, false); err != nil {
			t.Fatal(err)
		}
	}
	golden(t, "diagnostics.golden", buf.Bytes())
}

// TestDiagnosticsJSONGolden pins the JSON shape of `dmlrun validate --json`.
func TestDiagnosticsJSONGolden(t *testing.T) {
	var all []byte
	for _, path := range []string{"testdata/invalid/references.hcl", "testdata/invalid/references.yaml"} {
		_, diags := Load(path, LoadOptions{LookupEnv: noEnv})
		js, err := DiagnosticsJSON(diags)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, js...)
		all = append(all, '\n')
	}
	golden(t, "diagnostics.json.golden", all)
}
