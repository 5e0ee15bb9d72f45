package report

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"dmlrun/internal/failpoint"
	"dmlrun/stage"
	"dmlrun/stages/evaluate/metrics"
)

// Version is the report stage's implementation version. 2: rows are named by the current
// file (train block and matrix instance, seeds pooled), one row set per evaluate block and
// split, a training column; table.csv and table.json gained columns and fields. 3: the
// curves are drawn with gonum.org/v1/plot (Curves): mean over seeds with a min–max band,
// a panel per loss kind and scale, per logged metric and split, learning rates and
// skipped steps, 1-based epochs.
const Version = 3

// AllFormats are the output kinds `formats` may name.
var AllFormats = []string{"md", "csv", "json", "png", "svg"}

// Config is the report block's typed config.
type Config struct {
	PerSeed bool     `param:"per_seed" doc:"Also list every run (one row per seed) under its configuration's mean row."`
	Formats []string `param:"formats" enum:"md,csv,json,png,svg" doc:"Files to write: md (table.md), csv (table.csv), json (table.json), png (curves.png), svg (curves.svg)."`
}

// Def returns the report stage definition.
func Def() *stage.Def {
	d, err := stage.Typed(stage.Def{
		Kind:    "report",
		Version: Version,
		Doc: "Tabulates evaluate results, one row per train configuration (block and matrix instance, named as the file names it now) with mean ± sample std over its seeds, " +
			"one row set per evaluate block and split, and how each model trained (untrained, skipped steps, epoch selection); plots training curves.",
		Params: []stage.Param{
			{Name: "from", Type: stage.RefList, RefKind: "evaluate", Required: true,
				Doc: "Evaluate blocks whose results are tabulated (all their instances)."},
		},
		// Rows are named by the inputs' addresses: renaming a block must recompute the
		// report (and only it) so that the table says the new name.
		InputAddressesInKey: true,
	}, stage.Config[Config]{Defaults: Config{Formats: slices.Clone(AllFormats)}}, run)
	if err != nil {
		panic(err) // the declaration above is wrong: a bug, caught by every test
	}
	return d
}

func run(ctx *stage.Context, cfg *Config) error {
	ins := ctx.InputsOf("from")
	if len(ins) == 0 {
		return fmt.Errorf("report %s: no evaluate results to report", ctx.Addr)
	}
	var runs []Run
	for _, in := range ins {
		r, err := metrics.ReadResult(in.Dir)
		if err != nil {
			return fmt.Errorf("report %s: input %s: %w", ctx.Addr, in.Addr, err)
		}
		o, err := originOfInput(in)
		if err != nil {
			return fmt.Errorf("report %s: %w", ctx.Addr, err)
		}
		run := newRun(o, r)
		run.Dir = in.Dir
		runs = append(runs, run)
	}
	s, err := Summarize(runs)
	if err != nil {
		return fmt.Errorf("report %s: %w", ctx.Addr, err)
	}
	perSeed := cfg.PerSeed
	if err := s.Text(ctx.Log, perSeed); err != nil {
		return fmt.Errorf("report %s: %w", ctx.Addr, err)
	}
	write := func(name string, b []byte) error {
		if err := os.WriteFile(filepath.Join(ctx.OutDir, name), b, 0o644); err != nil {
			return fmt.Errorf("report %s: %w", ctx.Addr, err)
		}
		return nil
	}
	fig := Curves(s)
	for _, f := range cfg.Formats {
		if f == "png" || f == "svg" {
			if err := failpoint.Inject("report.write"); err != nil {
				return err
			}
		}
		var b []byte
		var err error
		name := "table." + f
		switch f {
		case "md":
			b, err = s.Markdown(perSeed)
		case "csv":
			b, err = s.CSV(perSeed)
		case "json":
			b, err = s.JSON()
		case "png":
			name = "curves.png"
			b, err = fig.PNG()
		case "svg":
			name = "curves.svg"
			b, err = fig.SVG()
		}
		if err != nil {
			return fmt.Errorf("report %s: %s: %w", ctx.Addr, name, err)
		}
		if err := write(name, b); err != nil {
			return err
		}
	}
	return nil
}

// TextTable renders a summary the way the stage logs it (for tests).
func TextTable(s *Summary, perSeed bool) string {
	var b bytes.Buffer
	_ = s.Text(&b, perSeed)
	return b.String()
}
