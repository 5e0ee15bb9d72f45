// Package golden compares rendered output with files under testdata/ for tests (plan text,
// --json, tables, diagnostics). `go test ./pkg -update` rewrites the files; the diff is then
// reviewed like code. It is imported only by _test files.
package golden

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

// update is registered once here, so every test binary that compares golden files takes
// the same -update flag.
var update = flag.Bool("update", false, "rewrite golden files under testdata/ instead of comparing")

// Updating reports whether the test run rewrites golden files.
func Updating() bool { return *update }

// Compare checks got against the file at path, or rewrites the file under -update. A
// difference is reported with the first differing line and both whole texts.
func Compare(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if bytes.Equal(got, want) {
		return
	}
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
	t.Errorf("%s differs at line %d (go test -update rewrites it; review the diff):\n got: %s\nwant: %s\n--- got\n%s\n--- want\n%s",
		path, i+1, line(gl), line(wl), got, want)
}
