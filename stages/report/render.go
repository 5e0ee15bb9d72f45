package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// The figure's geometry: panels in a grid under a legend band, sized so that three
// columns make a picture about 1,300 pixels wide at 96 dpi (a README or a laptop screen).
const (
	tileW    = 4.6 * vg.Inch
	tileH    = 3.1 * vg.Inch
	margin   = 0.15 * vg.Inch
	fontSize = 10
	dpi      = 96
)

// dashes are the line patterns by Series.Dash.
var dashes = [][]vg.Length{nil, {vg.Points(6), vg.Points(3)}, {vg.Points(1.5), vg.Points(2.5)}, {vg.Points(6), vg.Points(2), vg.Points(1.5), vg.Points(2)}}

var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

// PNG renders the figure as a PNG image.
func (f Figure) PNG() ([]byte, error) {
	w, h := f.size()
	c := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(dpi))
	if err := f.draw(draw.New(c)); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&b); err != nil {
		return nil, fmt.Errorf("png: %w", err)
	}
	return b.Bytes(), nil
}

// SVG renders the figure as an SVG document (fonts not embedded: a viewer without
// Liberation Sans uses another sans-serif font).
func (f Figure) SVG() ([]byte, error) {
	w, h := f.size()
	c := vgsvg.New(w, h)
	if err := f.draw(draw.New(c)); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("svg: %w", err)
	}
	// vgsvg names the font alone; a viewer without Liberation Sans would fall back to its
	// default (often a serif), so name the generic family after it
	return bytes.ReplaceAll(b.Bytes(), []byte("font-family:Liberation Sans;"), []byte("font-family:'Liberation Sans',Arial,sans-serif;")), nil
}

// grid is the number of columns and rows the panels take: two columns up to four
// panels, three beyond.
func (f Figure) grid() (cols, rows int) {
	n := max(1, len(f.Panels))
	cols = min(n, 2)
	if n > 4 {
		cols = 3
	}
	return cols, (n + cols - 1) / cols
}

func (f Figure) size() (vg.Length, vg.Length) {
	cols, rows := f.grid()
	w := vg.Length(cols)*tileW + 2*margin
	return w, f.legendHeight(w) + vg.Length(rows)*tileH + 2*margin
}

func textStyle(size vg.Length, c color.Color) text.Style {
	return text.Style{Color: c, Font: font.From(sans, size), Handler: plot.DefaultTextHandler, XAlign: draw.XLeft, YAlign: draw.YBottom}
}

// legendLayout places the title and the legend entries in rows that fit width w; it
// returns, per entry, its row, and the x offset of each entry within its row.
func (f Figure) legendLayout(w vg.Length) (rows []int, xs []vg.Length, nrows int) {
	sty := textStyle(fontSize, color.Black)
	x, row := vg.Length(0), 0
	avail := w - 2*margin
	for _, e := range f.Legend {
		ew := entryWidth(sty, e.Text)
		if x > 0 && x+ew > avail {
			row++
			x = 0
		}
		rows = append(rows, row)
		xs = append(xs, x)
		x += ew + vg.Points(14)
	}
	if len(f.Legend) > 0 {
		nrows = row + 1
	}
	return rows, xs, nrows
}

func entryWidth(sty text.Style, s string) vg.Length {
	return vg.Points(24) + sty.Width(s)
}

func lineHeight() vg.Length { return vg.Points(fontSize * 1.6) }

func (f Figure) legendHeight(w vg.Length) vg.Length {
	_, _, n := f.legendLayout(w)
	return lineHeight()*vg.Length(1+n) + vg.Points(8)
}

// draw lays the figure out on c: title and legend on top, panels in a grid below.
func (f Figure) draw(c draw.Canvas) error {
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	w := c.Max.X - c.Min.X
	top := c.Max.Y - margin
	lh := lineHeight()
	title := textStyle(fontSize+1, color.Black)
	c.FillText(title, vg.Point{X: c.Min.X + margin, Y: top - lh + vg.Points(4)}, f.Title)
	rows, xs, nrows := f.legendLayout(w)
	sty := textStyle(fontSize, color.Black)
	for i, e := range f.Legend {
		y := top - lh*vg.Length(2+rows[i]) + vg.Points(4)
		x := c.Min.X + margin + xs[i]
		ls := draw.LineStyle{Color: e.Colour, Width: vg.Points(2.5)}
		c.StrokeLine2(ls, x, y+vg.Points(fontSize*0.35), x+vg.Points(18), y+vg.Points(fontSize*0.35))
		c.FillText(sty, vg.Point{X: x + vg.Points(22), Y: y}, e.Text)
	}
	body := c
	body.Max.Y = top - lh*vg.Length(1+nrows) - vg.Points(8)
	body.Min.Y += margin
	body.Min.X += margin
	body.Max.X -= margin
	if len(f.Panels) == 0 {
		msg := textStyle(fontSize+1, color.Black)
		msg.XAlign, msg.YAlign = draw.XCenter, draw.YCenter
		c.FillText(msg, vg.Point{X: (body.Min.X + body.Max.X) / 2, Y: (body.Min.Y + body.Max.Y) / 2}, f.Message)
		return nil
	}
	cols, nr := f.grid()
	plots := make([][]*plot.Plot, nr)
	for r := range plots {
		plots[r] = make([]*plot.Plot, cols)
	}
	for i, p := range f.Panels {
		pl, err := p.plot()
		if err != nil {
			return fmt.Errorf("panel %q: %w", p.Title, err)
		}
		plots[i/cols][i%cols] = pl
	}
	tiles := draw.Tiles{Rows: nr, Cols: cols, PadX: vg.Points(18), PadY: vg.Points(14)}
	canvases := plot.Align(plots, tiles, body)
	for r := range plots {
		for k, pl := range plots[r] {
			if pl != nil {
				pl.Draw(canvases[r][k])
			}
		}
	}
	return nil
}

// plot builds one panel's gonum plot: axes, grid, ticks and its series.
func (p Panel) plot() (*plot.Plot, error) {
	pl := plot.New()
	pl.Title.Text = p.Title
	pl.Title.TextStyle.Font = font.From(sans, fontSize+1)
	pl.Title.Padding = vg.Points(6)
	for _, a := range []*plot.Axis{&pl.X, &pl.Y} {
		a.Label.TextStyle.Font = font.From(sans, fontSize)
		a.Tick.Label.Font = font.From(sans, fontSize-1)
		// room between the tick labels and the axis label, so they never touch
		a.Label.Padding = vg.Points(4)
	}
	pl.X.Label.Text, pl.Y.Label.Text = p.XLabel, p.YLabel
	if p.LogY {
		// A log axis is drawn as log10 of the values on a linear axis with ticks labelled
		// by the values: gonum's LogScale places a rotated axis label by the linear
		// midpoint, which pads the panel's top (and the band polygons need no special
		// care).
		p = logPanel(p)
		pl.Y.Tick.Marker = logTicks{}
	}
	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, s := range p.Series {
		for _, pt := range s.Points {
			xmin, xmax = math.Min(xmin, pt.Epoch), math.Max(xmax, pt.Epoch)
			ymin, ymax = math.Min(ymin, pt.Min), math.Max(ymax, pt.Max)
		}
	}
	if math.IsInf(xmin, 0) {
		return nil, fmt.Errorf("no finite points (a caller bug: Curves makes no empty panels)")
	}
	// epochs: integer ticks from 1, and half an epoch of room so that the first and
	// last markers are not cut by the frame
	pl.X.Min, pl.X.Max = xmin-0.5, xmax+0.5
	pl.X.Tick.Marker = intTicks{}
	switch {
	case p.LogY:
		// room above the top line for its label (learning rates), a little otherwise
		pad := math.Log10(1.15)
		if len(p.Labels) > 0 {
			pad = math.Log10(1.6)
		}
		pl.Y.Min, pl.Y.Max = ymin-pad, ymax+pad
	case p.IntY:
		pl.Y.Tick.Marker = intTicks{}
		pl.Y.Min, pl.Y.Max = math.Min(0, ymin), math.Max(ymax*1.1, 1)
	default:
		pad := (ymax - ymin) * 0.08
		if pad == 0 {
			pad = math.Max(math.Abs(ymax)*0.05, 0.01)
		}
		pl.Y.Min, pl.Y.Max = ymin-pad, ymax+pad
	}
	pl.Add(gridLines{colour: color.Gray{Y: 225}})
	// bands first, so that no band covers another variant's line
	for _, s := range p.Series {
		pl.Add(band{s: s})
	}
	for _, s := range p.Series {
		pl.Add(line{s: s})
	}
	if len(p.Labels) > 0 {
		pl.Add(labels(p.Labels))
	}
	return pl, nil
}

// logPanel returns p with its values replaced by their log10, points with a value <= 0
// left out.
func logPanel(p Panel) Panel {
	out := p
	out.Series = nil
	for _, s := range p.Series {
		t := s
		t.Points = nil
		for _, pt := range s.Points {
			if pt.Min > 0 {
				pt.Mean, pt.Min, pt.Max = math.Log10(pt.Mean), math.Log10(pt.Min), math.Log10(pt.Max)
				t.Points = append(t.Points, pt)
			}
		}
		if len(t.Points) > 0 {
			out.Series = append(out.Series, t)
		}
	}
	out.Labels = nil
	for _, l := range p.Labels {
		if l.Y > 0 {
			l.Y = math.Log10(l.Y)
			out.Labels = append(out.Labels, l)
		}
	}
	return out
}

// gridLines draws horizontal and vertical lines at the major ticks.
type gridLines struct{ colour color.Color }

func (g gridLines) Plot(c draw.Canvas, pl *plot.Plot) {
	ls := draw.LineStyle{Color: g.colour, Width: vg.Points(0.6)}
	for _, t := range pl.X.Tick.Marker.Ticks(pl.X.Min, pl.X.Max) {
		if t.IsMinor() || t.Value < pl.X.Min || t.Value > pl.X.Max {
			continue
		}
		x := c.X(pl.X.Norm(t.Value))
		c.StrokeLine2(ls, x, c.Min.Y, x, c.Max.Y)
	}
	for _, t := range pl.Y.Tick.Marker.Ticks(pl.Y.Min, pl.Y.Max) {
		if t.IsMinor() || t.Value < pl.Y.Min || t.Value > pl.Y.Max {
			continue
		}
		y := c.Y(pl.Y.Norm(t.Value))
		c.StrokeLine2(ls, c.Min.X, y, c.Max.X, y)
	}
}

// band is a series' min–max region over seeds: a translucent polygon between the
// smallest and the largest value, or a vertical bar at an isolated point.
type band struct{ s Series }

func (b band) Plot(c draw.Canvas, pl *plot.Plot) {
	tx, ty := pl.Transforms(&c)
	// color.RGBA is alpha-premultiplied: a translucent fill needs NRGBA
	fill := color.NRGBA{R: b.s.Colour.R, G: b.s.Colour.G, B: b.s.Colour.B, A: 64}
	pts := b.s.Points
	spread := false
	for _, p := range pts {
		spread = spread || p.Max > p.Min
	}
	if !spread {
		return // one seed, or seeds that agree: the line says it all
	}
	if len(pts) == 1 {
		p := pts[0]
		ls := draw.LineStyle{Color: fill, Width: vg.Points(6)}
		c.StrokeLine2(ls, tx(p.Epoch), ty(p.Min), tx(p.Epoch), ty(p.Max))
		return
	}
	var poly []vg.Point
	for _, p := range pts {
		poly = append(poly, vg.Point{X: tx(p.Epoch), Y: ty(p.Max)})
	}
	for i := len(pts) - 1; i >= 0; i-- {
		poly = append(poly, vg.Point{X: tx(pts[i].Epoch), Y: ty(pts[i].Min)})
	}
	c.FillPolygon(fill, c.ClipPolygonXY(poly))
}

// line is a series' mean curve, with markers where it has few points.
type line struct{ s Series }

func (l line) Plot(c draw.Canvas, pl *plot.Plot) {
	tx, ty := pl.Transforms(&c)
	pts := l.s.Points
	width := l.s.Width
	if width == 0 {
		width = 1
	}
	ls := draw.LineStyle{Color: l.s.Colour, Width: vg.Points(1.8 * width), Dashes: dashes[l.s.Dash%len(dashes)]}
	var path []vg.Point
	for _, p := range pts {
		path = append(path, vg.Point{X: tx(p.Epoch), Y: ty(p.Mean)})
	}
	if len(path) > 1 {
		c.StrokeLines(ls, c.ClipLinesXY(path)...)
	}
	if l.s.Markers || len(path) == 1 {
		gs := draw.GlyphStyle{Color: l.s.Colour, Radius: vg.Points(3), Shape: draw.CircleGlyph{}}
		for _, p := range path {
			if c.Contains(p) {
				c.DrawGlyph(gs, p)
			}
		}
	}
}

// labels writes Panel.Labels just above their points, starting at the point.
type labels []Label

func (ls labels) Plot(c draw.Canvas, pl *plot.Plot) {
	tx, ty := pl.Transforms(&c)
	for _, l := range ls {
		sty := textStyle(fontSize-1, l.Colour)
		c.FillText(sty, vg.Point{X: tx(l.Epoch) + vg.Points(2), Y: ty(l.Y) + vg.Points(3)}, l.Text)
	}
}

// intTicks labels integers only (epochs, step counts), at a step of 1, 2, 5, 10, ...
// that gives at most about eight labels.
type intTicks struct{}

func (intTicks) Ticks(lo, hi float64) []plot.Tick {
	step := niceStep(hi-lo, 8)
	var out []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		if v == math.Trunc(v) {
			out = append(out, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', 0, 64)})
		}
	}
	return out
}

// niceStep is the smallest of 1, 2, 5, 10, 20, ... that divides span into at most n
// intervals.
func niceStep(span float64, n int) float64 {
	for e := 1.0; e < 1e12; e *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if span/(m*e) <= float64(n) {
				return m * e
			}
		}
	}
	return 1e12
}

// logTicks labels 1, 2 and 5 times the powers of ten (only the powers when the range
// spans more than three decades) on an axis of log10 values from lo to hi, so that a
// range within one decade still has labels.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	mults := []float64{1, 2, 5}
	if hi-lo > 3 {
		mults = []float64{1}
	}
	var out []plot.Tick
	for e := math.Floor(lo); e <= math.Ceil(hi); e++ {
		for _, m := range mults {
			v := m * math.Pow(10, e)
			if l := math.Log10(v); l >= lo && l <= hi {
				out = append(out, plot.Tick{Value: l, Label: strconv.FormatFloat(v, 'g', 3, 64)})
			}
		}
	}
	return out
}
