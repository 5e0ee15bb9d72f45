package gallery

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"

	"dmlrun/stages/load"
)

// Mark says how a tile's border is drawn.
type Mark int

const (
	Plain Mark = iota // no border
	Query             // the query: a dark grey border
	Hit               // a retrieved image of the query's class: green
	Miss              // a retrieved image of another class: red
)

// The border colours (exported so that tests can look for them).
var (
	QueryColour = color.RGBA{70, 70, 70, 255}
	HitColour   = color.RGBA{0, 170, 60, 255}
	MissColour  = color.RGBA{220, 30, 30, 255}
)

func (m Mark) colour() (color.RGBA, bool) {
	switch m {
	case Query:
		return QueryColour, true
	case Hit:
		return HitColour, true
	case Miss:
		return MissColour, true
	}
	return color.RGBA{}, false
}

// Tile is one image with its caption.
type Tile struct {
	Image   image.Image // nil: an empty tile
	Caption string      // one line under the image, cut to the tile's width
	Mark    Mark
}

// Group is a run of tiles read together (a query and its neighbours), with an optional
// label on its left ("#123").
type Group struct {
	Label string
	Tiles []Tile
}

// Section is a heading, column headings for the tiles of a group, and groups laid out
// PerLine to a line.
type Section struct {
	Heading string
	Header  []string // one per tile position of a group; "" for none
	Groups  []Group
	PerLine int // groups per line; 0 means 1
	// Split, when > 0, leaves a wider gap after the first Split tiles of each group
	// (between the query and what it retrieved).
	Split int
}

// Sheet is a whole picture: title lines over sections.
type Sheet struct {
	Title    []string
	Sections []Section
	TileSize int // the side of a tile's image in pixels; 0 means DefaultTileSize
}

// Geometry in pixels. Exported where tests locate things.
const (
	DefaultTileSize = 96
	Border          = 4 // border width around a marked tile
	Pad             = 2 // white between the border and the image, so a red image keeps a visible red border
	Margin          = 14
	tileGap         = 6
	splitGap        = 18
	groupGap        = 26
	labelW          = 52 // room for a group's label on its left
	captionH        = 16
	textSize        = 12
)

var regular, bold font.Face

func init() {
	regular = face(goregular.TTF, textSize)
	bold = face(gobold.TTF, textSize+1)
}

func face(ttf []byte, size float64) font.Face {
	f, err := opentype.Parse(ttf)
	if err != nil {
		panic(fmt.Sprintf("gallery: the embedded Go font does not parse: %v", err)) // a broken build
	}
	fc, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		panic(fmt.Sprintf("gallery: the embedded Go font does not load: %v", err))
	}
	return fc
}

func (s Sheet) tile() int {
	if s.TileSize > 0 {
		return s.TileSize
	}
	return DefaultTileSize
}

// cell is the width of one tile with its border room and gap.
func (s Sheet) cell() int { return s.tile() + 2*(Border+Pad) + tileGap }

func (sec Section) perLine() int { return max(1, sec.PerLine) }

// groupWidth is the width of a group of n tiles.
func (s Sheet) groupWidth(sec Section, n int) int {
	w := labelW + n*s.cell()
	if sec.Split > 0 && sec.Split < n {
		w += splitGap
	}
	return w
}

func (s Sheet) maxTiles(sec Section) int {
	n := len(sec.Header)
	for _, g := range sec.Groups {
		n = max(n, len(g.Tiles))
	}
	return n
}

func (s Sheet) lineH() int { return s.tile() + 2*(Border+Pad) + captionH + 8 }

// Layout is where things were drawn (for tests): the outer rectangle of every tile, by
// section, group and tile.
type Layout struct {
	Tiles [][][]image.Rectangle
}

func (s Sheet) size() (int, int) {
	w, h := 0, Margin
	h += len(s.Title) * 18
	for _, sec := range s.Sections {
		gw := s.groupWidth(sec, s.maxTiles(sec))
		w = max(w, sec.perLine()*gw+(sec.perLine()-1)*groupGap)
		h += 10
		if sec.Heading != "" {
			h += 20
		}
		if len(sec.Header) > 0 {
			h += 18
		}
		lines := (len(sec.Groups) + sec.perLine() - 1) / sec.perLine()
		h += lines * s.lineH()
	}
	for _, t := range s.Title {
		w = max(w, font.MeasureString(bold, t).Ceil())
	}
	return w + 2*Margin, h + Margin
}

// Draw renders the sheet and returns the image with its layout.
func (s Sheet) Draw() (*image.RGBA, Layout) {
	w, h := s.size()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	xdraw.Draw(img, img.Bounds(), image.White, image.Point{}, xdraw.Src)
	var lay Layout
	y := Margin
	for _, t := range s.Title {
		text(img, bold, Margin, y+14, t, color.Black, w-2*Margin)
		y += 18
	}
	ts := s.tile()
	for _, sec := range s.Sections {
		y += 10
		if sec.Heading != "" {
			text(img, bold, Margin, y+15, sec.Heading, color.Black, w-2*Margin)
			y += 20
		}
		gw := s.groupWidth(sec, s.maxTiles(sec))
		xOf := func(col, ti int) int {
			x := Margin + col*(gw+groupGap) + labelW + ti*s.cell()
			if sec.Split > 0 && ti >= sec.Split {
				x += splitGap
			}
			return x
		}
		if len(sec.Header) > 0 {
			for col := 0; col < min(sec.perLine(), len(sec.Groups)); col++ {
				for ti, hd := range sec.Header {
					text(img, regular, xOf(col, ti), y+13, hd, color.RGBA{60, 60, 60, 255}, ts+2*(Border+Pad))
				}
			}
			y += 18
		}
		var secTiles [][]image.Rectangle
		for gi, g := range sec.Groups {
			col, line := gi%sec.perLine(), gi/sec.perLine()
			top := y + line*s.lineH()
			if g.Label != "" {
				text(img, regular, Margin+col*(gw+groupGap), top+Border+13, g.Label, color.Black, labelW-4)
			}
			var rects []image.Rectangle
			for ti, t := range g.Tiles {
				x := xOf(col, ti)
				outer := image.Rect(x, top, x+ts+2*(Border+Pad), top+ts+2*(Border+Pad))
				rects = append(rects, outer)
				if c, ok := t.Mark.colour(); ok {
					xdraw.Draw(img, outer, image.NewUniform(c), image.Point{}, xdraw.Src)
					xdraw.Draw(img, outer.Inset(Border), image.White, image.Point{}, xdraw.Src)
				}
				inner := outer.Inset(Border + Pad)
				if t.Image != nil {
					scale(img, inner, t.Image)
				} else {
					xdraw.Draw(img, inner, image.NewUniform(color.RGBA{235, 235, 235, 255}), image.Point{}, xdraw.Src)
				}
				text(img, regular, x, outer.Max.Y+13, t.Caption, color.Black, ts+2*(Border+Pad))
			}
			secTiles = append(secTiles, rects)
		}
		lay.Tiles = append(lay.Tiles, secTiles)
		lines := (len(sec.Groups) + sec.perLine() - 1) / sec.perLine()
		y += lines * s.lineH()
	}
	return img, lay
}

// PNG renders the sheet as a PNG.
func (s Sheet) PNG() ([]byte, error) {
	img, _ := s.Draw()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// scale draws src into r: Catmull-Rom, which keeps edges when a 32-pixel crop is
// enlarged and does not alias when a 224-pixel one is reduced.
func scale(dst *image.RGBA, r image.Rectangle, src image.Image) {
	xdraw.CatmullRom.Scale(dst, r, src, src.Bounds(), xdraw.Src, nil)
}

// text writes s with its baseline at y, cut with an ellipsis to width pixels.
func text(dst *image.RGBA, f font.Face, x, y int, s string, c color.Color, width int) {
	s = fit(f, s, width)
	d := &font.Drawer{Dst: dst, Src: image.NewUniform(c), Face: f, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

func fit(f font.Face, s string, width int) string {
	if font.MeasureString(f, s).Ceil() <= width {
		return s
	}
	r := []rune(s)
	for n := len(r) - 1; n > 0; n-- {
		if t := string(r[:n]) + "…"; font.MeasureString(f, t).Ceil() <= width {
			return t
		}
	}
	return ""
}

// SplitImage returns image i of a prepared split as the network saw it at evaluation:
// the stored image's centre crop (offsets as load.Split.EvalBatch computes them: Python's
// round half to even of (base-crop)/2).
func SplitImage(s *load.Split, i int) image.Image {
	pr := s.Protocol
	base, crop := pr.Base, pr.Crop
	off := int(math.RoundToEven(float64(base-crop) / 2))
	pix := s.Image(i)
	img := image.NewRGBA(image.Rect(0, 0, crop, crop))
	for y := 0; y < crop; y++ {
		for x := 0; x < crop; x++ {
			o := ((y+off)*base + x + off) * 3
			img.Pix[y*img.Stride+x*4] = pix[o]
			img.Pix[y*img.Stride+x*4+1] = pix[o+1]
			img.Pix[y*img.Stride+x*4+2] = pix[o+2]
			img.Pix[y*img.Stride+x*4+3] = 255
		}
	}
	return img
}
