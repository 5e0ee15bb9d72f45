// Package cli is dmlrun's command layer: the cobra command tree, the Factory that hands
// commands their dependencies (IOStreams, a lazily opened store, the libtorch version
// hook), and Main, which maps typed errors to exit codes (ExitCode: 0 ok, 1 error,
// 2 changes present for plan --detailed-exitcode, 3 RegressionError from diff --check).
//
// Each command lives in its own file with an XOptions struct, a newXCmd(f, runF) that binds
// flags, and a runX(opts) that does the work; tests pass runF to check flag parsing alone,
// or call Run in-process against test-only stages. Commands added by other packages (dmlrun
// diff) register through AddCommand.
//
// What it is not: no experiment decoding (spec), no graph, key or scheduling logic
// (pipeline), no store layout (store), no numerics (stages). cmd/dmlrun only calls Main and
// links the stages; see its doc comment for the command reference.
package cli
