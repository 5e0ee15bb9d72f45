// Package root builds dmlrun's cobra command tree from the command packages under
// internal/cli and runs it: Main (for cmd/dmlrun, which passes the stage registry and the
// libtorch version function) and Run (the same, in-process, for tests) decide every exit
// code in one place (ExitCode: 0 ok, 1 error, 2 changes present for plan
// --detailed-exitcode, 3 RegressionError from diff --check) and print errors once, with the
// usage only for flag misuse.
//
// What it is not: no command's logic (each lives in its own package with an Options
// struct, NewCmd and a run function) and no shared helpers (cmdutil).
package root
