package report

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"sort"
	"strings"

	"dmlrun/stages/evaluate/metrics"
)

// Figure is what curves.png and curves.svg draw, as data: the panels, their series and a
// legend shared by all panels (a variant has one colour everywhere). Curves builds it from
// a Summary; render.go draws it with gonum.org/v1/plot. Tests check this structure, not
// pixels.
type Figure struct {
	Title   string
	Legend  []LegendEntry // one per variant, in row order
	Panels  []Panel
	Message string // when there is nothing to plot: why (Panels is empty then)
}

// LegendEntry names one variant's colour.
type LegendEntry struct {
	Text   string // "nir (n=3 seeds)"
	Colour color.RGBA
}

// Panel is one chart.
type Panel struct {
	Title, XLabel, YLabel string
	// LogY draws the y axis logarithmically (learning rates, which span decades and are
	// positive, and a loss whose first epochs are many times its later values);
	// non-positive values are left out of such a panel.
	LogY bool
	// IntY makes the y ticks integers (step counts).
	IntY   bool
	Series []Series
	// Labels are texts written on the plot beside a line (the learning rate panel names
	// each optimiser group at its line instead of a legend of dash styles).
	Labels []Label
}

// Label is a text placed just above the point (Epoch, Y).
type Label struct {
	Epoch, Y float64
	Text     string
	Colour   color.RGBA
}

// Series is one variant's curve in one panel: the mean over its seeds at every epoch that
// at least one seed logged, with the smallest and largest seed's value (the band).
type Series struct {
	Variant string // the row label ("pa[embed_dim=16]")
	Colour  color.RGBA
	Dash    int // index into the dash styles (0: solid), for variants beyond the palette
	// Width scales the line width (0 means 1): where lines coincide (equal learning
	// rates), the earlier ones are drawn wider so that every colour stays visible.
	Width  float64
	Points []Point
	// Markers draws a glyph at every point: on curves with few points (an evaluation
	// every few epochs, or a single one), where a line alone would hide where the values
	// are, or show nothing at all for one point.
	Markers bool
}

// Point is one epoch of a series, over the seeds that logged a finite value there.
type Point struct {
	Epoch          float64 // 1-based, as the progress line counts ("epoch 1/12")
	Mean, Min, Max float64
	N              int // seeds with a value
}

// maxMarkerPoints: series with at most this many points get markers.
const maxMarkerPoints = 15

// lossScale is the largest ratio of typical loss values that one panel's linear axis
// holds: beyond it the smaller curve would be a flat line at the bottom (ProxyAnchor's
// loss is ~14 where NIR's is ~0.13), so the variants go to panels of their own.
const lossScale = 5.0

// palette holds distinct colours for up to len(palette) variants (Tableau 10: told apart
// by most readers, and none is too light on white); beyond that colours repeat with
// another dash style.
var palette = []color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
	{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255},
	{188, 189, 34, 255}, {23, 190, 207, 255},
}

// variant is one row label's runs with a training log, each model once.
type variant struct {
	label, loss, note string
	logs              []*metrics.Table
	runs              int // all the variant's runs, with a log or not
	colour            color.RGBA
	dash              int
}

// Curves builds the training-curve figure of a summary: per variant (a row label: train
// block and matrix instance) the mean over its seeds with a min–max band of
//
//   - the training loss, one panel per loss kind and scale (variants whose typical loss
//     differs by more than lossScale get separate linear axes; a log axis would hide the
//     late-epoch differences that matter and cannot show a loss <= 0),
//   - every logged evaluation metric, one panel per split and metric ("val e_recall@1",
//     "test e_recall@1"; a version-1 log's test_recall@1 is test e_recall@1),
//   - the learning rate of every optimiser group (log axis; one dash style per group),
//   - the skipped steps per epoch.
//
// A model that several row sets evaluated (val and test) counts once. Epochs are 1-based.
func Curves(s *Summary) Figure {
	vs := variants(s)
	fig := Figure{Title: "training curves: mean over seeds (line), min–max over seeds (band)"}
	for _, v := range vs {
		text := fmt.Sprintf("%s (n=%d seed%s)", v.label, len(v.logs), plural(len(v.logs)))
		if v.note != "" {
			text = fmt.Sprintf("%s (n=%d seed%s; %s)", v.label, len(v.logs), plural(len(v.logs)), v.note)
		}
		if len(v.logs) == 0 {
			text = fmt.Sprintf("%s (%d run%s, no training log", v.label, v.runs, plural(v.runs))
			if v.note != "" {
				text += "; " + v.note
			}
			text += ")"
		}
		fig.Legend = append(fig.Legend, LegendEntry{Text: text, Colour: v.colour})
	}
	fig.Panels = append(fig.Panels, lossPanels(vs)...)
	fig.Panels = append(fig.Panels, metricPanels(vs)...)
	if p, ok := lrPanel(vs); ok {
		fig.Panels = append(fig.Panels, p)
	}
	if p, ok := skippedPanel(vs); ok {
		fig.Panels = append(fig.Panels, p)
	}
	for i := range fig.Panels {
		widenCoincident(&fig.Panels[i])
	}
	if len(fig.Panels) == 0 {
		fig.Message = "no training curves: the evaluated models have no per-epoch training log (untrained, or trained before logs were kept)"
	}
	return fig
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// variants collects every row label's runs with a log, in row order, and gives each
// label its colour.
func variants(s *Summary) []*variant {
	var out []*variant
	byLabel := map[string]*variant{}
	seen := map[string]bool{} // label + train address: a model counted once
	for _, g := range s.Groups {
		v := byLabel[g.Label]
		if v == nil {
			i := len(out)
			v = &variant{label: g.Label, colour: palette[i%len(palette)], dash: i / len(palette)}
			if n := g.Note(); n == "untrained" || selectedOnTest(g.Runs) {
				v.note = n
			}
			byLabel[g.Label] = v
			out = append(out, v)
		}
		for _, r := range g.Runs {
			if seen[g.Label+" "+r.Addr] {
				continue
			}
			seen[g.Label+" "+r.Addr] = true
			v.runs++
			if v.loss == "" {
				v.loss = r.Loss
			}
			if r.TrainLog != nil && r.TrainLog.Col("epoch") >= 0 && len(r.TrainLog.Rows) > 0 {
				v.logs = append(v.logs, r.TrainLog)
			}
		}
	}
	return out
}

// column returns a log column's values by 1-based epoch (finite values only).
func column(t *metrics.Table, name string) map[float64]float64 {
	ec, c := t.Col("epoch"), t.Col(name)
	if ec < 0 || c < 0 {
		return nil
	}
	out := map[float64]float64{}
	for _, row := range t.Rows {
		if ec >= len(row) || c >= len(row) {
			continue
		}
		e, y := float64(row[ec]), float64(row[c])
		if math.IsNaN(e) || math.IsNaN(y) || math.IsInf(y, 0) {
			continue
		}
		out[e+1] = y
	}
	return out
}

// aggregate pools per-seed columns into points: mean, min and max over the seeds with a
// value at each epoch; keep filters values (nil: all).
func aggregate(cols []map[float64]float64, keep func(float64) bool) []Point {
	byEpoch := map[float64][]float64{}
	for _, c := range cols {
		for e, y := range c {
			if keep == nil || keep(y) {
				byEpoch[e] = append(byEpoch[e], y)
			}
		}
	}
	var out []Point
	for e, ys := range byEpoch {
		p := Point{Epoch: e, Mean: mean(ys), Min: slices.Min(ys), Max: slices.Max(ys), N: len(ys)}
		out = append(out, p)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Epoch < out[b].Epoch })
	return out
}

func (v *variant) series(name string, keep func(float64) bool) (Series, bool) {
	var cols []map[float64]float64
	for _, t := range v.logs {
		if c := column(t, name); len(c) > 0 {
			cols = append(cols, c)
		}
	}
	pts := aggregate(cols, keep)
	if len(pts) == 0 {
		return Series{}, false
	}
	return Series{Variant: v.label, Colour: v.colour, Dash: v.dash, Points: pts, Markers: len(pts) <= maxMarkerPoints}, true
}

// typical is a series' median mean value, the scale its panel must fit.
func typical(s Series) float64 {
	ys := make([]float64, len(s.Points))
	for i, p := range s.Points {
		ys[i] = math.Abs(p.Mean)
	}
	slices.Sort(ys)
	return ys[len(ys)/2]
}

// lossPanels puts each variant's loss into the first panel of its loss kind whose scale
// fits it (typical values within a factor lossScale), else into a new panel.
func lossPanels(vs []*variant) []Panel {
	type bucket struct {
		loss     string
		lo, hi   float64
		panel    Panel
		variants []string
	}
	var bs []*bucket
	for _, v := range vs {
		s, ok := v.series("loss", nil)
		if !ok {
			continue
		}
		t := typical(s)
		var into *bucket
		for _, b := range bs {
			if b.loss == v.loss && math.Max(b.hi, t) <= lossScale*math.Max(math.Min(b.lo, t), 1e-12) {
				into = b
				break
			}
		}
		if into == nil {
			into = &bucket{loss: v.loss, lo: t, hi: t}
			bs = append(bs, into)
		}
		into.lo, into.hi = math.Min(into.lo, t), math.Max(into.hi, t)
		into.panel.Series = append(into.panel.Series, s)
		into.variants = append(into.variants, v.label)
	}
	var out []Panel
	for _, b := range bs {
		p := b.panel
		p.XLabel, p.YLabel = "epoch", "loss"
		// A positive loss that falls by more than lossScale within the panel (a first
		// epoch at 0.9, then 0.1 for the rest) gets a log axis: on a linear one the rest
		// of the curve would be a flat line at the bottom.
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, s := range p.Series {
			for _, pt := range s.Points {
				lo, hi = math.Min(lo, pt.Min), math.Max(hi, pt.Max)
			}
		}
		if p.LogY = lo > 0 && hi > lossScale*lo; p.LogY {
			p.YLabel = "loss (log)"
		}
		what := "training loss"
		if b.loss != "" {
			what += " (" + b.loss + ")"
		}
		if len(bs) > 1 {
			// several loss panels: each says whose loss it holds
			what += ": " + strings.Join(b.variants, ", ")
		}
		p.Title = what
		out = append(out, p)
	}
	return out
}

// metricColumn is a train_log.csv column with an evaluation metric.
type metricColumn struct {
	split, metric string
	columns       []string // the spellings that hold it (test_recall@1 before version 2)
}

// evalSplits are the splits train logs evaluate on, in the order their panels appear.
var evalSplits = []string{"train", "val", "test"}

// metricColumns lists the metric columns of the logs: metrics in first-appearance order,
// each with its splits in evalSplits order.
func metricColumns(vs []*variant) []metricColumn {
	var names []string
	splitsOf := map[string][]string{}
	for _, v := range vs {
		for _, t := range v.logs {
			for _, c := range t.Columns {
				split, metric, ok := strings.Cut(c, "_")
				if !ok || !slices.Contains(evalSplits, split) {
					continue
				}
				if c == "test_recall@1" {
					metric = "e_recall@1" // version 1 logs
				}
				if !slices.Contains(names, metric) {
					names = append(names, metric)
				}
				if !slices.Contains(splitsOf[metric], split) {
					splitsOf[metric] = append(splitsOf[metric], split)
				}
			}
		}
	}
	var out []metricColumn
	for _, m := range names {
		for _, sp := range evalSplits {
			if !slices.Contains(splitsOf[m], sp) {
				continue
			}
			mc := metricColumn{split: sp, metric: m, columns: []string{sp + "_" + m}}
			if sp == "test" && m == "e_recall@1" {
				mc.columns = append(mc.columns, "test_recall@1")
			}
			out = append(out, mc)
		}
	}
	return out
}

func metricPanels(vs []*variant) []Panel {
	var out []Panel
	for _, mc := range metricColumns(vs) {
		p := Panel{Title: mc.split + " " + mc.metric, XLabel: "epoch", YLabel: mc.metric}
		for _, v := range vs {
			for _, col := range mc.columns {
				if s, ok := v.series(col, nil); ok {
					p.Series = append(p.Series, s)
					break
				}
			}
		}
		if len(p.Series) > 0 {
			out = append(out, p)
		}
	}
	return out
}

// lrPanel draws every optimiser group's learning rate (log axis), a line per variant and
// group in the variant's colour, each group named on the plot at its line ("proxies",
// without the loss's prefix: oproxy.proxies and nir.proxies are the same role). Lines
// that coincide get one label ("flow, condprep") and are drawn widest first, so that each
// colour shows at the edge of the next.
func lrPanel(vs []*variant) (Panel, bool) {
	p := Panel{Title: "learning rate per optimiser group", XLabel: "epoch", YLabel: "learning rate (log)", LogY: true}
	type level struct {
		// series with the same values at every epoch (widenCoincident draws them so that
		// each shows)
		series []int // indices into p.Series
		names  []string
	}
	var levels []*level
	for _, v := range vs {
		var groups []string
		for _, t := range v.logs {
			for _, c := range t.Columns {
				if g, ok := strings.CutPrefix(c, "lr_"); ok && !slices.Contains(groups, g) {
					groups = append(groups, g)
				}
			}
		}
		for _, g := range groups {
			s, ok := v.series("lr_"+g, func(y float64) bool { return y > 0 })
			if !ok {
				continue
			}
			s.Markers = false // a step schedule: the line says it
			p.Series = append(p.Series, s)
			name := g[strings.LastIndexByte(g, '.')+1:]
			var into *level
			for _, l := range levels {
				if same(p.Series[l.series[0]], s) {
					into = l
					break
				}
			}
			if into == nil {
				into = &level{}
				levels = append(levels, into)
			}
			into.series = append(into.series, len(p.Series)-1)
			if !slices.Contains(into.names, name) {
				into.names = append(into.names, name)
			}
		}
	}
	// A level shared by more than two variants (a matrix over something else than the
	// learning rates) is one grey line: a stack of identical coloured lines says nothing
	// but "the same", and the label says it for how many.
	all := p.Series
	p.Series = nil
	for _, l := range levels {
		first := all[l.series[0]]
		colour := first.Colour
		var variants []string
		for _, si := range l.series {
			if s := all[si]; !slices.Contains(variants, s.Variant) {
				variants = append(variants, s.Variant)
			}
			if s := all[si]; s.Colour != colour {
				colour = sharedColour
			}
		}
		text := strings.Join(l.names, ", ")
		if len(variants) > 2 {
			first.Colour, first.Variant = sharedColour, ""
			p.Series = append(p.Series, first)
			text += fmt.Sprintf(" (%d configurations)", len(variants))
		} else {
			for _, si := range l.series {
				p.Series = append(p.Series, all[si])
			}
		}
		pt := first.Points[0]
		p.Labels = append(p.Labels, Label{Epoch: pt.Epoch, Y: pt.Mean, Text: text, Colour: colour})
	}
	return p, len(p.Series) > 0
}

// sharedColour draws what several variants share.
var sharedColour = color.RGBA{60, 60, 60, 255}

// same says whether two series have the same mean at the same epochs (to rounding).
func same(a, b Series) bool {
	if len(a.Points) != len(b.Points) {
		return false
	}
	for i := range a.Points {
		if a.Points[i].Epoch != b.Points[i].Epoch || math.Abs(a.Points[i].Mean-b.Points[i].Mean) > 1e-9*math.Abs(a.Points[i].Mean) {
			return false
		}
	}
	return true
}

// widenCoincident gives lines that others cover exactly (equal learning rates, no skipped
// steps in two variants) a larger width, the first drawn widest, so that the colours
// show at the edge of the next line instead of vanishing under it (the first three of a
// larger stack).
func widenCoincident(p *Panel) {
	for i := range p.Series {
		over := 0 // later series drawn over series i
		for j := i + 1; j < len(p.Series); j++ {
			if same(p.Series[i], p.Series[j]) {
				over++
			}
		}
		if over > 0 {
			// at most two lines show under a third: wider ones would be bars
			p.Series[i].Width = 1 + 1.2*float64(min(over, 2))
		}
	}
}

func skippedPanel(vs []*variant) (Panel, bool) {
	p := Panel{Title: "skipped steps per epoch (non-finite gradients)", XLabel: "epoch", YLabel: "skipped steps", IntY: true}
	any := false
	for _, v := range vs {
		if s, ok := v.series("skipped", nil); ok {
			p.Series = append(p.Series, s)
			for _, pt := range s.Points {
				any = any || pt.Max > 0
			}
		}
	}
	if !any {
		p.Title = "skipped steps per epoch: none in any run"
	}
	return p, len(p.Series) > 0
}
