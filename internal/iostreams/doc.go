// Package iostreams is the one place dmlrun's commands get their input and output
// streams and learn whether those are terminals: tables and JSON go to Out, diagnostics,
// events and progress bars to ErrOut, bars and colour only when ErrOut is a terminal (bars
// not on a "dumb" one: ProgressBars).
//
// It is not a logger and does no formatting of its own.
package iostreams
