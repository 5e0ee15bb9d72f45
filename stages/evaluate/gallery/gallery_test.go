package gallery

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"testing"
)

func solid(c color.RGBA, n int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, n, n))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, 255
	}
	return img
}

func rgba(img image.Image, p image.Point) color.RGBA {
	r, g, b, a := img.At(p.X, p.Y).RGBA()
	return color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), uint8(a >> 8)}
}

// The layout puts every tile where Layout says, its border in its mark's colour with a
// white ring inside, the image scaled into the middle; groups flow PerLine to a line.
func TestSheetLayout(t *testing.T) {
	blue, yellow := color.RGBA{20, 40, 200, 255}, color.RGBA{230, 200, 20, 255}
	g := func(label string) Group {
		return Group{Label: label, Tiles: []Tile{
			{Image: solid(blue, 8), Caption: "query", Mark: Query},
			{Image: solid(yellow, 8), Caption: "a very long caption that does not fit", Mark: Hit},
			{Image: solid(blue, 300), Caption: "b", Mark: Miss},
			{Caption: "empty"},
		}}
	}
	s := Sheet{Title: []string{"title"}, TileSize: 40, Sections: []Section{
		{Heading: "first", Header: []string{"q", "1st", "2nd", "3rd"}, Groups: []Group{g("#1"), g("#2"), g("#3")}, PerLine: 2, Split: 1},
	}}
	img, lay := s.Draw()
	if len(lay.Tiles) != 1 || len(lay.Tiles[0]) != 3 || len(lay.Tiles[0][0]) != 4 {
		t.Fatalf("layout %v", lay.Tiles)
	}
	tiles := lay.Tiles[0]
	side := 40 + 2*(Border+Pad)
	for gi, rects := range tiles {
		for ti, r := range rects {
			if r.Dx() != side || r.Dy() != side || !r.In(img.Bounds()) {
				t.Errorf("group %d tile %d at %v, want %dx%d inside %v", gi, ti, r, side, side, img.Bounds())
			}
		}
	}
	// groups 0 and 1 share a line, group 2 starts the next one at group 0's x
	if tiles[0][0].Min.Y != tiles[1][0].Min.Y || tiles[1][0].Min.X <= tiles[0][3].Max.X || tiles[2][0].Min.X != tiles[0][0].Min.X || tiles[2][0].Min.Y <= tiles[0][0].Max.Y {
		t.Errorf("groups not laid out two per line: %v", tiles)
	}
	// the split: a wider gap after the query than between retrieved tiles
	if gap1, gap2 := tiles[0][1].Min.X-tiles[0][0].Max.X, tiles[0][2].Min.X-tiles[0][1].Max.X; gap1 <= gap2 {
		t.Errorf("gap after the query %d, between neighbours %d", gap1, gap2)
	}
	for gi := range tiles {
		for ti, want := range []struct {
			border, image color.RGBA
		}{
			{QueryColour, blue}, {HitColour, yellow}, {MissColour, blue}, {color.RGBA{255, 255, 255, 255}, color.RGBA{235, 235, 235, 255}},
		} {
			r := tiles[gi][ti]
			if got := rgba(img, r.Min); got != want.border {
				t.Errorf("group %d tile %d: border pixel %v, want %v", gi, ti, got, want.border)
			}
			if got := rgba(img, image.Pt(r.Max.X-1, r.Min.Y+r.Dy()/2)); got != want.border {
				t.Errorf("group %d tile %d: right border pixel %v, want %v", gi, ti, got, want.border)
			}
			if ti < 3 {
				if got := rgba(img, r.Min.Add(image.Pt(Border, Border))); got != (color.RGBA{255, 255, 255, 255}) {
					t.Errorf("group %d tile %d: no white ring inside the border (%v)", gi, ti, got)
				}
			}
			if got := rgba(img, image.Pt((r.Min.X+r.Max.X)/2, (r.Min.Y+r.Max.Y)/2)); got != want.image {
				t.Errorf("group %d tile %d: centre pixel %v, want the image's %v", gi, ti, got, want.image)
			}
		}
	}
	b, err := s.PNG()
	if err != nil {
		t.Fatal(err)
	}
	dec, err := png.Decode(bytes.NewReader(b))
	if err != nil || dec.Bounds() != img.Bounds() {
		t.Fatalf("png: %v, %v", err, dec.Bounds())
	}
}

func TestFit(t *testing.T) {
	if got := fit(regular, "short", 200); got != "short" {
		t.Errorf("fit short = %q", got)
	}
	got := fit(regular, "a very long caption that does not fit", 60)
	if w := len(got); w == 0 || got[len(got)-len("…"):] != "…" {
		t.Errorf("fit long = %q", got)
	}
}
