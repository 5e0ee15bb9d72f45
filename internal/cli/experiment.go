package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"dmlrun/pipeline"
	"dmlrun/spec"
)

// experiment is a loaded experiment file with its graph.
type experiment struct {
	Path  string // as given on the command line
	ID    string // absolute path: identifies the experiment in the store's index
	Spec  *spec.Experiment
	Graph *pipeline.Graph
}

// loadExperiment reads, validates and builds an experiment. Diagnostics (warnings too) are
// written to ErrOut; when there are errors it returns SilentError, since they were shown.
//
// Keys cover the external content nodes read (dataset folders, through the stages'
// KeyInputs hooks), so building reads or stat-checks those folders. Relative paths in the
// experiment (a dataset's root) are resolved against the working directory, not the
// experiment file's folder. structureOnly skips the hooks (validate): nodes that read
// external content, and those downstream, then have no key.
func loadExperiment(f *Factory, path string, vars []string, structureOnly bool) (*experiment, error) {
	return loadExperimentContext(context.Background(), f, path, vars, structureOnly)
}

// loadExperimentContext is loadExperiment whose decoding stops when ctx is done; it then
// returns ctx's error (wrapped, so that the command ends with "Interrupted") and shows no
// diagnostics, which would be incomplete.
func loadExperimentContext(ctx context.Context, f *Factory, path string, vars []string, structureOnly bool) (*experiment, error) {
	vm, err := parseVars(vars)
	if err != nil {
		return nil, err
	}
	exp, diags := spec.LoadContext(ctx, path, spec.LoadOptions{Registry: f.Stages, Vars: vm, LookupEnv: f.LookupEnv})
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(diags) > 0 {
		ios := f.IOStreams
		if werr := spec.WriteDiagnostics(ios.ErrOut, exp.Files, diags, uint(ios.TerminalWidth()), ios.ColorEnabled()); werr != nil {
			return nil, werr
		}
		if diags.HasErrors() {
			return nil, SilentError
		}
	}
	var debug io.Writer
	if f.getenv("DMLRUN_DEBUG_KEYS") == "1" {
		debug = f.IOStreams.ErrOut
	}
	g, err := pipeline.Build(f.Stages, pipeline.FromSpec(exp), pipeline.BuildOptions{KeyDebug: debug, SkipKeyInputs: structureOnly})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	id, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	return &experiment{Path: path, ID: id, Spec: exp, Graph: g}, nil
}
