package clitest

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// WriteFolderDataset writes classes x per small PNGs in the folder layout (<class>/<image>): 44x40
// stripes that differ per class and image, for commands that run real stages (export, inspect).
func WriteFolderDataset(t testing.TB, root string, classes, per int) {
	t.Helper()
	for c := 0; c < classes; c++ {
		dir := filepath.Join(root, fmt.Sprintf("c%02d", c))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < per; i++ {
			img := image.NewRGBA(image.Rect(0, 0, 44, 40))
			for y := 0; y < 40; y++ {
				for x := 0; x < 44; x++ {
					s := uint8(((x / (1 + c%3)) % 2) * 80)
					img.Set(x, y, color.RGBA{uint8(30*c) + s, uint8(17*i) + s, uint8(x * 5), 255})
				}
			}
			f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%d.png", i)))
			if err != nil {
				t.Fatal(err)
			}
			if err := png.Encode(f, img); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
}
