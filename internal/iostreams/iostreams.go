package iostreams

import (
	"bytes"
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams holds the streams and what is known about them.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdoutTTY, stderrTTY bool
	dumbTerm             bool // TERM=dumb: a terminal that cannot redraw a line
	color                bool
	width                int
}

// System returns the process's standard streams. Colour is on when stderr is a terminal,
// NO_COLOR is unset and TERM is not "dumb".
func System() *IOStreams {
	s := &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	s.stdoutTTY = term.IsTerminal(int(os.Stdout.Fd()))
	s.stderrTTY = term.IsTerminal(int(os.Stderr.Fd()))
	_, noColor := os.LookupEnv("NO_COLOR")
	s.dumbTerm = os.Getenv("TERM") == "dumb"
	s.color = s.stderrTTY && !noColor && !s.dumbTerm
	s.width = 80
	if s.stderrTTY {
		if w, _, err := term.GetSize(int(os.Stderr.Fd())); err == nil && w > 0 {
			s.width = w
		}
	}
	return s
}

// Test returns streams backed by buffers: no terminals, no colour, width 80.
func Test() (s *IOStreams, in, out, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut, width: 80}, in, out, errOut
}

func (s *IOStreams) IsStdoutTTY() bool   { return s.stdoutTTY }
func (s *IOStreams) IsStderrTTY() bool   { return s.stderrTTY }
func (s *IOStreams) SetStdoutTTY(v bool) { s.stdoutTTY = v }
func (s *IOStreams) SetStderrTTY(v bool) { s.stderrTTY = v }
func (s *IOStreams) ColorEnabled() bool  { return s.color }

// ProgressBars reports whether progress may be drawn as bars that redraw their line: only
// when ErrOut is a terminal that can (TERM is not "dumb"). Otherwise (a pipe, a file, a CI
// log) commands print one summary line per finished loop instead.
func (s *IOStreams) ProgressBars() bool { return s.stderrTTY && !s.dumbTerm }

// SetDumbTerminal says whether ErrOut's terminal is a "dumb" one (System reads TERM).
func (s *IOStreams) SetDumbTerminal(v bool) { s.dumbTerm = v }
func (s *IOStreams) SetColorEnabled(v bool) { s.color = v }

// TerminalWidth is stderr's width in columns (80 when unknown).
func (s *IOStreams) TerminalWidth() int {
	if s.width <= 0 {
		return 80
	}
	return s.width
}
