package report

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"image/color"

	"dmlrun/internal/failpoint"
	"dmlrun/stage"
	"dmlrun/stages/evaluate/metrics"
)

// Version is the report stage's implementation version. 2: rows are named by the current
// file (train block and matrix instance, seeds pooled), one row set per evaluate block and
// split, a training column; table.csv and table.json gained columns and fields.
const Version = 2

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
		runs = append(runs, newRun(o, r))
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
	panels := CurvePanels(s)
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
			b, err = PNG(panels)
		case "svg":
			name = "curves.svg"
			b = SVG(panels)
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

// recallColumns are the train_log.csv column names that hold test Recall@1, in order of
// preference (stages/train writes test_recall@1).
var recallColumns = []string{"test_recall@1", "test_e_recall@1"}

// CurvePanels builds the two training-curve panels (loss and test Recall@1 per epoch), one
// line per trained model, one colour per row label, all rows on the same axes. A model
// that several row sets evaluated (val and test) is drawn once; its legend entry is its
// row's label with the number of seeds, and says so when its epoch was selected on test
// or it is untrained.
func CurvePanels(s *Summary) []Panel {
	loss := Panel{Title: "training loss", XLabel: "epoch", YLabel: "loss"}
	rec := Panel{Title: "test Recall@1", XLabel: "epoch", YLabel: "Recall@1"}
	colour := map[string]color.RGBA{}
	drawn := map[string]bool{}
	for _, g := range s.Groups {
		col, ok := colour[g.Label]
		if !ok {
			col = palette[len(colour)%len(palette)]
			colour[g.Label] = col
		}
		label := fmt.Sprintf("%s (%d)", g.Label, len(g.Runs))
		if n := g.Note(); n == "untrained" || selectedOnTest(g.Runs) {
			label = fmt.Sprintf("%s (%d, %s)", g.Label, len(g.Runs), n)
		}
		for _, r := range g.Runs {
			t := r.TrainLog
			if t == nil || drawn[g.Label+" "+r.Addr] {
				continue
			}
			drawn[g.Label+" "+r.Addr] = true
			ep := t.Col("epoch")
			if ep < 0 {
				continue
			}
			if lc := t.Col("loss"); lc >= 0 {
				loss.Series = append(loss.Series, series(t, ep, lc, label, col))
			}
			for _, name := range recallColumns {
				if rc := t.Col(name); rc >= 0 {
					rec.Series = append(rec.Series, series(t, ep, rc, label, col))
					break
				}
			}
		}
	}
	return []Panel{loss, rec}
}

func series(t *metrics.Table, xc, yc int, label string, col color.RGBA) Series {
	s := Series{Label: label, Color: col}
	for _, row := range t.Rows {
		// epochs without a value (e.g. no evaluation that epoch) are skipped, so the
		// evaluated epochs are joined by one line
		if xc >= len(row) || yc >= len(row) || math.IsNaN(float64(row[xc])) || math.IsNaN(float64(row[yc])) {
			continue
		}
		s.X = append(s.X, float64(row[xc]))
		s.Y = append(s.Y, float64(row[yc]))
	}
	return s
}

// TextTable renders a summary the way the stage logs it (for tests).
func TextTable(s *Summary, perSeed bool) string {
	var b bytes.Buffer
	_ = s.Text(&b, perSeed)
	return b.String()
}
