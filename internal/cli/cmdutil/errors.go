package cmdutil

import (
	"errors"
	"fmt"
)

// FlagError is a misuse of flags or arguments; it alone makes Main print the usage text.
type FlagError struct{ Err error }

func (e *FlagError) Error() string { return e.Err.Error() }
func (e *FlagError) Unwrap() error { return e.Err }

// FlagErrorf is a FlagError with a formatted message.
func FlagErrorf(format string, args ...any) error {
	return &FlagError{Err: fmt.Errorf(format, args...)}
}

// ChangesPresentError is returned by plan --detailed-exitcode when some node would run.
// Main maps it to exit code 2 and prints nothing more.
type ChangesPresentError struct{ Changes int }

func (e *ChangesPresentError) Error() string {
	return fmt.Sprintf("%d node(s) would run", e.Changes)
}

// RegressionError is returned by a check that found metrics worse than allowed (dmlrun
// diff --check). Main prints it and exits with code 3. Regressions lists one line per
// failing metric, e.g. "e_recall@1: nir 0.612 < baseline 0.640 - 0.02".
type RegressionError struct {
	Check       string
	Regressions []string
}

func (e *RegressionError) Error() string {
	msg := fmt.Sprintf("check %s: %d regression(s)", e.Check, len(e.Regressions))
	for _, r := range e.Regressions {
		msg += "\n  " + r
	}
	return msg
}

// SilentError means the problem was already reported (diagnostics were printed); Main
// exits with code 1 without printing it again.
var SilentError = errors.New("silent error")
