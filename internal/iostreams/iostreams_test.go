package iostreams

import "testing"

func TestProgressBars(t *testing.T) {
	for _, c := range []struct {
		tty, dumb, want bool
	}{
		{false, false, false}, // a pipe, a file, a CI log
		{true, false, true},
		{true, true, false}, // TERM=dumb cannot redraw a line
		{false, true, false},
	} {
		s, _, _, _ := Test()
		if s.ProgressBars() {
			t.Fatal("Test() streams draw bars")
		}
		s.SetStderrTTY(c.tty)
		s.SetDumbTerminal(c.dumb)
		if got := s.ProgressBars(); got != c.want {
			t.Errorf("tty %v dumb %v: ProgressBars %v, want %v", c.tty, c.dumb, got, c.want)
		}
	}
}
