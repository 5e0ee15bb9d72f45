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

// "stages train" prints the train section alone; every stage's section, in order, is the
// whole reference; an unknown name lists the known ones.
func TestStagesOne(t *testing.T) {
	r := clitest.Run(t, "stages", "train")
	if r.Code != root.ExitOK || r.ErrOut != "" {
		t.Fatalf("exit %d\n%s", r.Code, r.ErrOut)
	}
	clitest.Golden(t, "train", r.Out)
	all := clitest.Run(t, "stages").Out
	if got := clitest.Run(t, "stages", "dataset", "evaluate", "source", "train").Out; got != all {
		t.Errorf("the sections one by one differ from the whole reference:\n%s\nwant\n%s", got, all)
	}
	r = clitest.Run(t, "stages", "trian")
	if r.Code != root.ExitError || !strings.HasPrefix(r.ErrOut, `Error: unknown stage "trian"; the stages are dataset, evaluate, source, train`+"\n") || r.Out != "" {
		t.Errorf("unknown stage: exit %d\n%s%s", r.Code, r.Out, r.ErrOut)
	}
	// Completion offers the stage names not given yet.
	r = clitest.Run(t, "__complete", "stages", "train", "")
	if r.Out != "dataset\nevaluate\nsource\n:4\n" {
		t.Errorf("completion:\n%s", r.Out)
	}
}
