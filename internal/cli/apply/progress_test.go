package apply

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"dmlrun/internal/golden"
	"dmlrun/internal/iostreams"
	"dmlrun/stage"
)

// clock is a fake time source the test moves by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// On a non-terminal (a CI log) each loop prints one summary line when it ends, with the
// final status and its duration; a loop still running after every says where it is; an
// interrupted loop's summary shows how far it got; Finish after the summary prints nothing.
func TestPlainProgressLines(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	var out bytes.Buffer
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	p := &progress{ios: ios, w: &out, addr: "train.nir[seed=0]", shared: &barSlot{}, every: 10 * time.Minute, now: clk.now}

	// Two short epochs: one line each, whatever the number of steps.
	for epoch, loss := range []float64{14.05712, 0.43121} {
		bar := p.Start("epoch "+string(rune('1'+epoch))+"/3", 94)
		for range 94 {
			clk.advance(438 * time.Millisecond)
			bar.SetStatus("loss " + stage.FormatLoss(loss) + " skipped 0")
			bar.Add(1)
		}
		bar.Finish()
	}
	// A diverging epoch of 5 steps, 4 minutes each: one line at 12 minutes, the summary at 20.
	bar := p.Start("epoch 3/3", 5)
	for i := range 5 {
		clk.advance(4 * time.Minute)
		bar.SetStatus("loss " + stage.FormatLoss(1.2345678e7*float64(i+1)) + " skipped " + string(rune('0'+i)))
		bar.Add(1)
	}
	bar.Finish()
	// An interrupted loop: the summary says 4 of 10.
	bar = p.Start("decode test", 10)
	for range 4 {
		clk.advance(100 * time.Millisecond)
		bar.Add(1)
	}
	bar.Finish()
	bar.Finish()
	golden.Compare(t, filepath.Join("testdata", "progress-plain.golden"), out.Bytes())
}

// Bars only on a terminal that can redraw a line.
func TestProgressBarsOnlyOnTerminals(t *testing.T) {
	for _, c := range []struct {
		name      string
		tty, dumb bool
		bar       bool
	}{
		{"pipe", false, false, false},
		{"terminal", true, false, true},
		{"dumb terminal", true, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			ios.SetStderrTTY(c.tty)
			ios.SetDumbTerminal(c.dumb)
			var out bytes.Buffer
			p := &progress{ios: ios, w: &out, addr: "x", shared: &barSlot{}, every: time.Minute, now: time.Now}
			b := p.Start("epoch 1/1", 1)
			_, isBar := b.(*termBar)
			b.Add(1)
			b.Finish()
			if isBar != c.bar {
				t.Errorf("terminal bar %v, want %v", isBar, c.bar)
			}
			if !c.bar && (bytes.ContainsRune(out.Bytes(), '\r') || bytes.Count(out.Bytes(), []byte{'\n'}) != 1) {
				t.Errorf("want one plain line, got %q", out.String())
			}
		})
	}
}
