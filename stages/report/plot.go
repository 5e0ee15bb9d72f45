package report

import (
	"bytes"
	"fmt"
	"html"
	"image"
	"image/color"
	"image/png"
	"math"
	"strconv"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Series is one line of a panel.
type Series struct {
	Label string // legend text; series with the same label share one legend entry
	Color color.RGBA
	X, Y  []float64 // NaN Y values break the line
}

// Panel is one chart: axes, title and lines.
type Panel struct {
	Title, XLabel, YLabel string
	Series                []Series
}

// canvas is what the layout draws on; pngCanvas and svgCanvas implement it, so PNG and
// SVG come from one layout.
type canvas interface {
	line(x1, y1, x2, y2 float64, c color.RGBA, width float64)
	text(x, y float64, s string, anchor int, c color.RGBA) // anchor: -1 left, 0 centre, 1 right; y = baseline
}

var (
	black = color.RGBA{0, 0, 0, 255}
	grey  = color.RGBA{220, 220, 220, 255}
	// palette is colour-blind friendly (Okabe–Ito).
	palette = []color.RGBA{{0, 114, 178, 255}, {230, 159, 0, 255}, {0, 158, 115, 255},
		{204, 121, 167, 255}, {86, 180, 233, 255}, {213, 94, 0, 255}, {240, 228, 66, 255}, {0, 0, 0, 255}}
)

const (
	panelW, panelH = 560, 400
	marginL        = 70
	marginR        = 20
	marginT        = 50
	marginB        = 50
)

// drawPanels lays panels out side by side, each with its own legend.
func drawPanels(c canvas, panels []Panel) {
	for i, p := range panels {
		drawPanel(c, float64(i*panelW), p)
	}
}

func drawPanel(c canvas, x0 float64, p Panel) {
	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, s := range p.Series {
		for i := range s.X {
			if math.IsNaN(s.Y[i]) || math.IsInf(s.Y[i], 0) {
				continue
			}
			xmin, xmax = math.Min(xmin, s.X[i]), math.Max(xmax, s.X[i])
			ymin, ymax = math.Min(ymin, s.Y[i]), math.Max(ymax, s.Y[i])
		}
	}
	left, right := x0+marginL, x0+panelW-marginR
	top, bottom := float64(marginT), float64(panelH-marginB)
	c.text((left+right)/2, 18, p.Title, 0, black)
	c.text((left+right)/2, panelH-12, p.XLabel, 0, black)
	c.text(x0+8, top-4, p.YLabel, -1, black)
	if math.IsInf(xmin, 0) {
		c.text((left+right)/2, (top+bottom)/2, "no data", 0, black)
		c.line(left, bottom, right, bottom, black, 1)
		c.line(left, top, left, bottom, black, 1)
		return
	}
	intX := true // epochs: integer ticks only
	for _, s := range p.Series {
		for _, x := range s.X {
			intX = intX && x == math.Trunc(x)
		}
	}
	xt := niceTicks(xmin, xmax, 6, intX)
	yt := niceTicks(ymin, ymax, 6, false)
	xmin, xmax = math.Min(xmin, xt[0]), math.Max(xmax, xt[len(xt)-1])
	ymin, ymax = math.Min(ymin, yt[0]), math.Max(ymax, yt[len(yt)-1])
	if xmax == xmin {
		xmin, xmax = xmin-1, xmax+1
	}
	if ymax == ymin {
		ymin, ymax = ymin-1, ymax+1
	}
	px := func(v float64) float64 { return left + (v-xmin)/(xmax-xmin)*(right-left) }
	py := func(v float64) float64 { return bottom - (v-ymin)/(ymax-ymin)*(bottom-top) }
	for _, t := range yt {
		if t < ymin || t > ymax {
			continue
		}
		c.line(left, py(t), right, py(t), grey, 1)
		c.text(left-6, py(t)+4, tickLabel(t), 1, black)
	}
	for _, t := range xt {
		if t < xmin || t > xmax {
			continue
		}
		c.line(px(t), bottom, px(t), bottom+4, black, 1)
		c.text(px(t), bottom+17, tickLabel(t), 0, black)
	}
	c.line(left, bottom, right, bottom, black, 1)
	c.line(left, top, left, bottom, black, 1)
	for _, s := range p.Series {
		prev := -1
		for i := range s.X {
			if math.IsNaN(s.Y[i]) || math.IsInf(s.Y[i], 0) {
				prev = -1
				continue
			}
			if prev >= 0 {
				c.line(px(s.X[prev]), py(s.Y[prev]), px(s.X[i]), py(s.Y[i]), s.Color, 2)
			} else if i+1 >= len(s.X) || math.IsNaN(s.Y[i+1]) {
				// an isolated point: a short horizontal dash so it stays visible
				c.line(px(s.X[i])-2, py(s.Y[i]), px(s.X[i])+2, py(s.Y[i]), s.Color, 2)
			}
			prev = i
		}
	}
	// legend: one entry per label, in a row between the title and the plot area
	seen := map[string]bool{}
	lx := left
	for _, s := range p.Series {
		if seen[s.Label] {
			continue
		}
		seen[s.Label] = true
		c.line(lx, 34, lx+20, 34, s.Color, 3)
		c.text(lx+26, 38, s.Label, -1, black)
		lx += 26 + 7*float64(len(s.Label)) + 20
	}
}

// niceTicks returns about n round tick values covering [lo, hi]; integer makes the step
// at least 1.
func niceTicks(lo, hi float64, n int, integer bool) []float64 {
	if hi == lo {
		return []float64{lo}
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	if integer {
		step = math.Max(1, math.Round(step))
	}
	// first and last multiples of step around [lo, hi]; the epsilon keeps 0.3/0.1 =
	// 2.9999999999999996 from starting a step early
	first := math.Floor(lo/step + 1e-9)
	last := math.Ceil(hi/step - 1e-9)
	var out []float64
	for i := first; i <= last; i++ {
		out = append(out, i*step)
	}
	return out
}

func tickLabel(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e6 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// ---- PNG ----

type pngCanvas struct{ img *image.RGBA }

func (p *pngCanvas) blend(x, y int, c color.RGBA, a float64) {
	if !(image.Point{x, y}.In(p.img.Rect)) || a <= 0 {
		return
	}
	a = math.Min(a, 1)
	o := p.img.RGBAAt(x, y)
	mix := func(f, b uint8) uint8 { return uint8(math.Round(float64(f)*a + float64(b)*(1-a))) }
	p.img.SetRGBA(x, y, color.RGBA{mix(c.R, o.R), mix(c.G, o.G), mix(c.B, o.B), 255})
}

// line draws an anti-aliased thick segment by coverage of the pixel centres' distance to
// the segment (a capsule of the given width).
func (p *pngCanvas) line(x1, y1, x2, y2 float64, c color.RGBA, width float64) {
	r := width / 2
	minX, maxX := int(math.Floor(math.Min(x1, x2)-r-1)), int(math.Ceil(math.Max(x1, x2)+r+1))
	minY, maxY := int(math.Floor(math.Min(y1, y2)-r-1)), int(math.Ceil(math.Max(y1, y2)+r+1))
	dx, dy := x2-x1, y2-y1
	l2 := dx*dx + dy*dy
	for y := minY; y <= maxY; y++ {
		for x := minX; x <= maxX; x++ {
			cx, cy := float64(x)+0.5, float64(y)+0.5
			t := 0.0
			if l2 > 0 {
				t = math.Max(0, math.Min(1, ((cx-x1)*dx+(cy-y1)*dy)/l2))
			}
			ex, ey := cx-(x1+t*dx), cy-(y1+t*dy)
			d := math.Sqrt(ex*ex + ey*ey)
			p.blend(x, y, c, r+0.5-d)
		}
	}
}

func (p *pngCanvas) text(x, y float64, s string, anchor int, c color.RGBA) {
	face := basicfont.Face7x13
	d := &font.Drawer{Dst: p.img, Src: image.NewUniform(c), Face: face}
	w := float64(d.MeasureString(s).Round())
	x -= w * float64(anchor+1) / 2
	d.Dot = fixed.P(int(math.Round(x)), int(math.Round(y)))
	d.DrawString(s)
}

// PNG renders panels side by side.
func PNG(panels []Panel) ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, panelW*max(1, len(panels)), panelH))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	drawPanels(&pngCanvas{img: img}, panels)
	var buf bytes.Buffer
	err := png.Encode(&buf, img)
	return buf.Bytes(), err
}

// ---- SVG ----

type svgCanvas struct{ b strings.Builder }

func rgb(c color.RGBA) string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

func (s *svgCanvas) line(x1, y1, x2, y2 float64, c color.RGBA, width float64) {
	fmt.Fprintf(&s.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="%g" stroke-linecap="round"/>`+"\n",
		x1, y1, x2, y2, rgb(c), width)
}

func (s *svgCanvas) text(x, y float64, t string, anchor int, c color.RGBA) {
	a := [...]string{"start", "middle", "end"}[anchor+1]
	fmt.Fprintf(&s.b, `<text x="%.1f" y="%.1f" text-anchor="%s" fill="%s">%s</text>`+"\n", x, y, a, rgb(c), html.EscapeString(t))
}

// SVG renders panels side by side.
func SVG(panels []Panel) []byte {
	w := panelW * max(1, len(panels))
	s := &svgCanvas{}
	fmt.Fprintf(&s.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, panelH, w, panelH)
	fmt.Fprintf(&s.b, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	drawPanels(s, panels)
	s.b.WriteString("</svg>\n")
	return []byte(s.b.String())
}
