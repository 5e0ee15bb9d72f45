package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"image/png"
	"io"
	"math"
	"slices"
	"strings"
	"testing"

	"dmlrun/stages/evaluate/metrics"
)

// logOf builds a train log: columns, then one row per epoch from the column functions of
// the 0-based epoch (NaN: an empty cell).
func logOf(epochs int, cols []string, vals ...func(ep int) float64) *metrics.Table {
	t := &metrics.Table{Columns: append([]string{"epoch"}, cols...)}
	for ep := range epochs {
		row := []metrics.Value{metrics.Value(ep)}
		for _, f := range vals {
			row = append(row, metrics.Value(f(ep)))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

func constant(v float64) func(int) float64 { return func(int) float64 { return v } }

// curveRun is one seed of a variant with a train log.
func curveRun(label, loss string, seed int64, log *metrics.Table) Run {
	return Run{Label: label, Block: label, Loss: loss, Seed: seed, Addr: fmt.Sprintf("train.%s[seed=%d]", label, seed),
		Evaluate: "test", Split: "test", Config: label, Metrics: map[string]float64{"e_recall@1": 0.5}, TrainLog: log}
}

func summaryOf(t *testing.T, runs ...Run) *Summary {
	t.Helper()
	s, err := Summarize(runs)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func titles(f Figure) []string {
	var out []string
	for _, p := range f.Panels {
		out = append(out, p.Title)
	}
	return out
}

func seriesOf(t *testing.T, f Figure, title string) []Series {
	t.Helper()
	for _, p := range f.Panels {
		if p.Title == title {
			return p.Series
		}
	}
	t.Fatalf("no panel %q in %q", title, titles(f))
	return nil
}

// Inputs -> panels: which panels a set of logs gives, in order.
func TestCurvesPanels(t *testing.T) {
	lossCols := []string{"loss", "skipped", "steps", "lr_network"}
	lossLog := func(loss float64) *metrics.Table {
		return logOf(4, lossCols, func(ep int) float64 { return loss / float64(ep+1) }, constant(0), constant(10), constant(1e-3))
	}
	cases := []struct {
		name string
		runs []Run
		want []string
	}{
		{"proxyanchor and nir: a loss axis each", []Run{curveRun("baseline", "oproxy", 0, lossLog(14)), curveRun("nir", "nir", 0, lossLog(0.13))},
			[]string{"training loss (oproxy): baseline", "training loss (nir): nir", "learning rate per optimiser group", "skipped steps per epoch: none in any run"}},
		{"one loss at two scales: two axes", []Run{curveRun("a", "oproxy", 0, lossLog(14)), curveRun("b", "oproxy", 0, lossLog(0.5))},
			[]string{"training loss (oproxy): a", "training loss (oproxy): b", "learning rate per optimiser group", "skipped steps per epoch: none in any run"}},
		{"one loss at one scale: one axis", []Run{curveRun("a", "oproxy", 0, lossLog(14)), curveRun("b", "oproxy", 0, lossLog(7))},
			[]string{"training loss (oproxy)", "learning rate per optimiser group", "skipped steps per epoch: none in any run"}},
		{"two losses at one scale: still two axes", []Run{curveRun("a", "oproxy", 0, lossLog(1)), curveRun("b", "margin", 0, lossLog(1))},
			[]string{"training loss (oproxy): a", "training loss (margin): b", "learning rate per optimiser group", "skipped steps per epoch: none in any run"}},
		{"val and test of two metrics, legacy column merged", []Run{
			curveRun("new", "", 0, logOf(3, []string{"val_e_recall@1", "test_e_recall@1", "test_nmi"}, constant(0.6), constant(0.5), constant(0.7))),
			curveRun("old", "", 0, logOf(3, []string{"test_recall@1"}, constant(0.4))),
		}, []string{"val e_recall@1", "test e_recall@1", "test nmi"}},
		{"skipped steps", []Run{curveRun("a", "", 0, logOf(3, []string{"skipped"}, func(ep int) float64 { return float64(ep) }))},
			[]string{"skipped steps per epoch (non-finite gradients)"}},
		{"a version 4 nir log's loss terms add no panel", []Run{curveRun("nir", "nir", 0, logOf(4, []string{"loss", "loss_proxyanchor", "loss_nir", "skipped", "steps", "lr_network"},
			constant(0.5), constant(0.1), constant(0.4), constant(0), constant(10), constant(1e-3)))},
			[]string{"training loss (nir)", "learning rate per optimiser group", "skipped steps per epoch: none in any run"}},
		{"no logs", []Run{curveRun("a", "", 0, nil)}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := Curves(summaryOf(t, c.runs...))
			if got := titles(f); !slices.Equal(got, c.want) {
				t.Errorf("panels %q, want %q", got, c.want)
			}
			if (len(f.Panels) == 0) != (f.Message != "") {
				t.Errorf("message %q with %d panels", f.Message, len(f.Panels))
			}
		})
	}
	f := Curves(summaryOf(t, curveRun("new", "", 0, logOf(3, []string{"test_e_recall@1"}, constant(0.5))),
		curveRun("old", "", 0, logOf(3, []string{"test_recall@1"}, constant(0.4)))))
	if s := seriesOf(t, f, "test e_recall@1"); len(s) != 2 || s[1].Variant != "old" {
		t.Errorf("test e_recall@1 series %+v, want new and old", s)
	}
}

// Inputs -> series: the mean, min and max over seeds per 1-based epoch, seeds that did
// not log an epoch left out there, markers on short series.
func TestCurvesSeries(t *testing.T) {
	// three seeds; seed 2 has no value at epoch 0 (empty cell) and the metric is logged
	// every other epoch
	var runs []Run
	for seed := range 3 {
		r := func(ep int) float64 {
			if ep%2 == 0 || (seed == 2 && ep == 1) {
				return math.NaN()
			}
			return 0.5 + 0.1*float64(seed) + 0.01*float64(ep)
		}
		loss := func(ep int) float64 { return 10 - float64(ep) + float64(seed) }
		runs = append(runs, curveRun("pa", "oproxy", int64(seed), logOf(30, []string{"loss", "test_e_recall@1"}, loss, r)))
	}
	f := Curves(summaryOf(t, runs...))
	if len(f.Legend) != 1 || f.Legend[0].Text != "pa (n=3 seeds)" {
		t.Errorf("legend %+v", f.Legend)
	}
	loss := seriesOf(t, f, "training loss (oproxy)")[0]
	if p := loss.Points[0]; p.Epoch != 1 || p.Mean != 11 || p.Min != 10 || p.Max != 12 || p.N != 3 {
		t.Errorf("loss at epoch 1: %+v, want epoch 1 (1-based), mean 11, min 10, max 12, n 3", p)
	}
	if len(loss.Points) != 30 || loss.Markers {
		t.Errorf("loss: %d points, markers %v; want 30 points without markers", len(loss.Points), loss.Markers)
	}
	rec := seriesOf(t, f, "test e_recall@1")[0]
	if len(rec.Points) != 15 || !rec.Markers {
		t.Errorf("recall: %d points, markers %v; want 15 with markers", len(rec.Points), rec.Markers)
	}
	if p := rec.Points[0]; p.Epoch != 2 || p.N != 2 || math.Abs(p.Mean-0.56) > 1e-12 || math.Abs(p.Max-0.61) > 1e-12 {
		t.Errorf("recall at epoch 2: %+v, want the two seeds that logged it (0.51, 0.61)", p)
	}
	// a single evaluation is a marker
	one := Curves(summaryOf(t, curveRun("a", "", 0, logOf(3, []string{"test_e_recall@1"}, func(ep int) float64 {
		if ep == 2 {
			return 0.3
		}
		return math.NaN()
	}))))
	if s := seriesOf(t, one, "test e_recall@1")[0]; len(s.Points) != 1 || !s.Markers || s.Points[0].Epoch != 3 {
		t.Errorf("single evaluation %+v, want one marked point at epoch 3", s)
	}
}

// A loss that falls by more than lossScale within its panel gets a log axis; one that
// does not keeps a linear one.
func TestCurvesLossAxis(t *testing.T) {
	for _, c := range []struct {
		name string
		loss func(int) float64
		log  bool
	}{
		{"a first epoch many times the rest", func(ep int) float64 { return map[bool]float64{true: 0.9, false: 0.1}[ep == 0] }, true},
		{"a slow decline", func(ep int) float64 { return 14 - float64(ep) }, false},
		{"a loss below zero", func(ep int) float64 { return 5 - float64(ep) }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := Curves(summaryOf(t, curveRun("a", "nir", 0, logOf(8, []string{"loss"}, c.loss))))
			if p := f.Panels[0]; p.LogY != c.log || (p.YLabel == "loss (log)") != c.log {
				t.Errorf("log axis %v (y label %q), want %v", p.LogY, p.YLabel, c.log)
			}
		})
	}
}

// Matrix instances of one block get distinct colours and their own legend entries.
func TestCurvesColours(t *testing.T) {
	var runs []Run
	for i := range 8 {
		r := curveRun("pa", "oproxy", 0, logOf(2, []string{"loss"}, constant(1)))
		r.Instance = fmt.Sprintf("embed_dim=%d", 16<<i)
		r.Label = label("pa", r.Instance)
		r.Config = r.Label
		runs = append(runs, r)
	}
	f := Curves(summaryOf(t, runs...))
	seen := map[[4]uint8]string{}
	for _, e := range f.Legend {
		k := [4]uint8{e.Colour.R, e.Colour.G, e.Colour.B, e.Colour.A}
		if o, dup := seen[k]; dup {
			t.Errorf("%s and %s share a colour", o, e.Text)
		}
		seen[k] = e.Text
	}
	if len(f.Legend) != 8 || f.Legend[3].Text != "pa[embed_dim=128] (n=1 seed)" {
		t.Errorf("legend %+v", f.Legend)
	}
}

// Learning rates: one series per variant and group, each group named at its line without
// the loss prefix, coinciding lines named once and drawn so that both show.
func TestCurvesLearningRates(t *testing.T) {
	cols := []string{"lr_network", "lr_oproxy.proxies"}
	a := curveRun("baseline", "oproxy", 0, logOf(3, cols, constant(1e-3), constant(2e-2)))
	b := curveRun("nir", "nir", 0, logOf(3, []string{"lr_network", "lr_nir.proxies", "lr_nir.flow", "lr_nir.condprep"},
		constant(1e-3), constant(2e-2), constant(5e-4), func(ep int) float64 { return 5e-4 * math.Pow(0.1, float64(ep)) }))
	f := Curves(summaryOf(t, a, b))
	var p Panel
	for _, q := range f.Panels {
		if q.LogY {
			p = q
		}
	}
	if len(p.Series) != 6 {
		t.Fatalf("%d learning-rate series, want 6", len(p.Series))
	}
	var texts []string
	for _, l := range p.Labels {
		texts = append(texts, fmt.Sprintf("%s@%g", l.Text, l.Y))
	}
	want := []string{"network@0.001", "proxies@0.02", "flow@0.0005", "condprep@0.0005"}
	if !slices.Equal(texts, want) {
		t.Errorf("labels %q, want %q", texts, want)
	}
	if p.Series[0].Variant != "baseline" || p.Series[1].Variant != "nir" || p.Series[0].Width <= 1 || p.Series[1].Width != 0 {
		t.Errorf("network lines %s %v, %s %v: the baseline's lies under nir's and must be wider", p.Series[0].Variant, p.Series[0].Width, p.Series[1].Variant, p.Series[1].Width)
	}
	// three configurations with one schedule: one grey line that says so
	var runs []Run
	for _, name := range []string{"a", "b", "c"} {
		runs = append(runs, curveRun(name, "oproxy", 0, logOf(3, []string{"lr_network"}, constant(1e-3))))
	}
	for _, q := range Curves(summaryOf(t, runs...)).Panels {
		if !q.LogY {
			continue
		}
		if len(q.Series) != 1 || q.Series[0].Colour != sharedColour || len(q.Labels) != 1 || q.Labels[0].Text != "network (3 configurations)" {
			t.Errorf("shared schedule: %d series, labels %+v", len(q.Series), q.Labels)
		}
	}
	if !strings.Contains(f.Legend[1].Text, "nir") {
		t.Errorf("legend %+v", f.Legend)
	}
}

// The rendered files decode, with panels and without (a message).
func TestCurvesRender(t *testing.T) {
	for _, c := range []struct {
		name string
		runs []Run
	}{
		{"panels", []Run{curveRun("a", "oproxy", 0, logOf(5, []string{"loss", "skipped", "lr_network", "test_e_recall@1"}, constant(2), constant(0), constant(1e-3), constant(0.4))),
			curveRun("a", "oproxy", 1, logOf(5, []string{"loss", "skipped", "lr_network", "test_e_recall@1"}, constant(3), constant(1), constant(1e-3), constant(0.5)))}},
		{"nothing to plot", []Run{curveRun("a", "", 0, nil)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := Curves(summaryOf(t, c.runs...))
			b, err := f.PNG()
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			w, h := f.size()
			if d := img.Bounds(); math.Abs(float64(d.Dx())-w.Dots(dpi)) > 1 || math.Abs(float64(d.Dy())-h.Dots(dpi)) > 1 {
				t.Errorf("png %v, want %.0f x %.0f", d, w.Dots(dpi), h.Dots(dpi))
			}
			svg, err := f.SVG()
			if err != nil {
				t.Fatal(err)
			}
			d := xml.NewDecoder(bytes.NewReader(svg))
			for {
				if _, err := d.Token(); err == io.EOF {
					break
				} else if err != nil {
					t.Fatalf("svg is not well-formed XML: %v", err)
				}
			}
			if f.Message == "" && !strings.Contains(string(svg), "sans-serif") {
				t.Error("the svg's text names no generic font family")
			}
			for _, p := range f.Panels {
				if !strings.Contains(string(svg), p.Title) {
					t.Errorf("svg lacks the panel title %q", p.Title)
				}
			}
			if f.Message != "" && !strings.Contains(string(svg), f.Message) {
				t.Errorf("svg lacks the message %q", f.Message)
			}
		})
	}
}
