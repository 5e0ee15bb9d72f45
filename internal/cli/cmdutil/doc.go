// Package cmdutil is what dmlrun's commands share: the Factory that hands them their
// dependencies (IOStreams, the stage registry, a store opened on first use, the libtorch
// version asked for only when needed), the typed errors Main maps to exit codes
// (FlagError, ChangesPresentError, RegressionError, SilentError), argument helpers (key
// prefixes: CheckKeyArg, ResolveKey), and the one way to load an experiment (spec, then
// pipeline.Build) and render its diagnostics, build errors and plans.
//
// What it is not: no command (each lives in its own package under internal/cli), no cobra
// tree and no exit codes (package root), no decoding, graph or key logic of its own (spec
// and pipeline).
package cmdutil
