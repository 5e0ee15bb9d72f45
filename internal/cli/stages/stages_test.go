package stages_test

import (
	"strings"
	"testing"

	"dmlrun/internal/cli/clitest"
	"dmlrun/internal/cli/root"
)

// The reference is the registry's, the one the program was given: here the test stages.
func TestStagesPrintsTheRegistry(t *testing.T) {
	r := clitest.Run(t, "stages")
	if r.Code != root.ExitOK || r.ErrOut != "" {
		t.Fatalf("exit %d\n%s", r.Code, r.ErrOut)
	}
	var sections []string
	for _, l := range strings.Split(r.Out, "\n") {
		if strings.HasPrefix(l, "### ") {
			sections = append(sections, l)
		}
	}
	want := "### `dataset` (version 1)|### `evaluate` (version 1)|### `source` (version 1)|### `train` (version 1)"
	if got := strings.Join(sections, "|"); got != want {
		t.Errorf("sections %s, want %s", got, want)
	}
	if r := clitest.Run(t, "stages", "extra"); r.Code != root.ExitError {
		t.Errorf("stages extra: exit %d", r.Code)
	}
}
