package spec

import (
	"bytes"
	goldenfile "dmlrun/internal/golden"
	"fmt"
	"path/filepath"
	"testing"
)

// golden compares got with testdata/<name>, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Compare(t, filepath.Join("testdata", name), got)
}

// TestDiagnosticsGolden renders the diagnostics of every invalid case, text with snippets
// as `dmlrun validate` prints them, so that message changes show up in review.
func TestDiagnosticsGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*")
	var buf bytes.Buffer
	for _, path := range files {
		exp, diags := Load(path, LoadOptions{Registry: testRegistry, LookupEnv: noEnv})
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
		_, diags := Load(path, LoadOptions{Registry: testRegistry, LookupEnv: noEnv})
		js, err := DiagnosticsJSON(diags)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, js...)
		all = append(all, '\n')
	}
	golden(t, "diagnostics.json.golden", all)
}
