package main

import (
	"fmt"
	"os"

	"dmlrun/internal/cli"
	"dmlrun/stage"
	"dmlrun/stages/embed"
	"dmlrun/stages/evaluate"
	"dmlrun/stages/load"
	"dmlrun/stages/report"
	"dmlrun/stages/train"
	"dmlrun/torch"
)

func main() {
	stages, err := stage.NewRegistry(load.Def(), train.Def(), embed.Def(), evaluate.Def(), report.Def())
	if err != nil {
		// A stage's declaration is wrong: a bug of this build, which every test catches.
		fmt.Fprintln(os.Stderr, "dmlrun:", err)
		os.Exit(1)
	}
	os.Exit(int(cli.Main(stages, torch.Version)))
}
