package diff_test

import (
	"strings"
	"testing"

	"dmlrun/internal/cli/clitest"
	"dmlrun/internal/cli/root"
)

// Through the real root command: diff is in the tree and its argument errors show the
// usage (exit 1).
func TestDiffThroughMain(t *testing.T) {
	r := clitest.Run(t, "diff", "a", "b")
	if r.Code != root.ExitError || !strings.Contains(r.ErrOut, "FILE:BLOCK") || !strings.Contains(r.ErrOut, "Usage:") {
		t.Errorf("exit %d, stderr %q", r.Code, r.ErrOut)
	}
}
