package main

import (
	"fmt"
	"os"

	"dmlrun/internal/cli/root"
	"dmlrun/stage"
	"dmlrun/stages/embed"
	"dmlrun/stages/evaluate"
	"dmlrun/stages/load"
	"dmlrun/stages/report"
	"dmlrun/stages/train"
	"dmlrun/torch"
)

// main only wires: the stages dmlrun links, as one registry value, and the linked
// libtorch's version go to the command tree's Main, which decides the exit code.
func main() {
	stages, err := stage.NewRegistry(load.Def(), train.Def(), embed.Def(), evaluate.Def(), report.Def())
	if err != nil {
		// A stage's declaration is wrong: a bug of this build, which every test catches.
		fmt.Fprintln(os.Stderr, "dmlrun:", err)
		os.Exit(1)
	}
	os.Exit(int(root.Main(stages, torch.Version)))
}
