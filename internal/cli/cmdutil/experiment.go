package cmdutil

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"dmlrun/pipeline"
	"dmlrun/spec"

	"github.com/hashicorp/hcl/v2"
)

// Experiment is a loaded experiment file with its graph.
type Experiment struct {
	Path  string // as given on the command line
	ID    string // absolute path: identifies the experiment in the store's index
	Spec  *spec.Experiment
	Graph *pipeline.Graph
}

// LoadOptions says how LoadExperiment builds the graph.
type LoadOptions struct {
	Vars []string // -var name=value settings
	// StructureOnly skips the stages' KeyInputs hooks (validate): nodes that read external
	// content, and those downstream, then have no key.
	StructureOnly bool
}

// LoadExperiment reads, validates and builds an experiment with f's stages. Diagnostics
// (warnings too) and the problems that keep pipeline.Build from making a graph are written
// to ErrOut with file:line:col and a snippet; when there are errors it returns
// SilentError, since they were shown.
//
// Decoding stops when ctx is done; LoadExperiment then returns ctx's error (wrapped, so
// that the command ends with "Interrupted") and shows no diagnostics, which would be
// incomplete.
//
// Keys cover the external content nodes read (dataset folders, through the stages'
// KeyInputs hooks), so building reads or stat-checks those folders. Relative paths in the
// experiment (a dataset's root) are resolved against the working directory, not the
// experiment file's folder. DMLRUN_DEBUG_KEYS=1 prints every field fed into every key.
func LoadExperiment(ctx context.Context, f *Factory, path string, o LoadOptions) (*Experiment, error) {
	vm, err := ParseVars(o.Vars)
	if err != nil {
		return nil, err
	}
	exp, diags := spec.LoadContext(ctx, path, spec.LoadOptions{Registry: f.Stages, Vars: vm, LookupEnv: f.LookupEnv})
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(diags) > 0 {
		if werr := WriteDiagnostics(f.IOStreams, exp.Files, diags); werr != nil {
			return nil, werr
		}
		if diags.HasErrors() {
			return nil, SilentError
		}
	}
	var debug io.Writer
	if f.Getenv("DMLRUN_DEBUG_KEYS") == "1" {
		debug = f.IOStreams.ErrOut
	}
	g, buildDiags, err := BuildGraph(ctx, f, exp, pipeline.BuildOptions{KeyDebug: debug, SkipKeyInputs: o.StructureOnly})
	if len(buildDiags) > 0 {
		if werr := WriteDiagnostics(f.IOStreams, exp.Files, buildDiags); werr != nil {
			return nil, werr
		}
		return nil, SilentError
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	id, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	return &Experiment{Path: path, ID: id, Spec: exp, Graph: g}, nil
}

// BuildGraph builds a decoded experiment's graph with f's stages. The problems that keep
// pipeline.Build from making a graph (pipeline.GraphError: an unknown block type, a
// reference to no node, a cycle, parameters that cannot be hashed) come back as
// diagnostics with their source ranges, for the same renderer as spec's; any other error
// (a cancelled context) is returned as it is. spec reports every such problem of a valid
// file first, so a diagnostic here means spec and pipeline disagree: worth showing where.
func BuildGraph(ctx context.Context, f *Factory, exp *spec.Experiment, o pipeline.BuildOptions) (*pipeline.Graph, hcl.Diagnostics, error) {
	o.Context = ctx
	g, err := pipeline.Build(f.Stages, pipeline.FromSpec(exp), o)
	if err == nil {
		return g, nil, nil
	}
	if diags := pipeline.Diagnostics(err); len(diags) > 0 {
		return nil, diags, err
	}
	return nil, nil, err
}

// FindNode resolves ADDR: an exact node address, or a block with a single instance.
func FindNode(g *pipeline.Graph, file, addr string) (*pipeline.Node, error) {
	if n := g.Node(addr); n != nil {
		return n, nil
	}
	var matches []string
	for _, m := range g.Nodes {
		if m.Block() == addr {
			matches = append(matches, m.Addr)
		}
	}
	switch len(matches) {
	case 0:
		return nil, fmt.Errorf("%s: no node %s in the experiment", file, addr)
	case 1:
		return g.Node(matches[0]), nil
	}
	return nil, fmt.Errorf("%s has %d instances; name one: %s", addr, len(matches), strings.Join(matches, ", "))
}

// LoadNode loads the experiment at path with vars and finds the node or one-instance block
// addr in it (FindNode): the start of every command that reads one node (inspect, export).
func LoadNode(ctx context.Context, f *Factory, path, addr string, vars []string) (*Experiment, *pipeline.Node, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	exp, err := LoadExperiment(ctx, f, path, LoadOptions{Vars: vars})
	if err != nil {
		return nil, nil, err
	}
	n, err := FindNode(exp.Graph, path, addr)
	if err != nil {
		return nil, nil, err
	}
	return exp, n, nil
}
