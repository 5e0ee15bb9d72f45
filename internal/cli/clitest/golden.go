package clitest

import (
	"path/filepath"
	"testing"

	"dmlrun/internal/golden"
)

// goldenDir is the testdata folder of the package under test, resolved before any test
// changes the working directory (go test starts each package's test binary in the
// package's directory).
var goldenDir = func() string { d, _ := filepath.Abs("testdata"); return d }()

// Golden compares got with testdata/<name>.golden of the package under test
// (go test -update rewrites it).
func Golden(t *testing.T, name, got string) {
	t.Helper()
	golden.Compare(t, filepath.Join(goldenDir, name+".golden"), []byte(got))
}
