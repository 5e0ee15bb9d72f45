package spec

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"dmlrun/stage"

	"github.com/hashicorp/hcl/v2"
)

// LoadOptions carries values from outside the file.
type LoadOptions struct {
	// Vars are -var name=value settings. Each value is a string that is converted to the
	// type of the variable's default (number, bool, string; lists and objects are parsed
	// as HCL expressions). They take precedence over the environment and the default.
	Vars map[string]string
	// LookupEnv reads DMLRUN_VAR_<name> for each declared variable; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Registry is the set of stages whose blocks the file may declare: their block types,
	// schemas and Decode functions. Required: cmd/dmlrun builds the program's registry,
	// tests build their own (stage.NewRegistry). nil is a bug of the caller, and Load and
	// Parse panic on it.
	Registry *stage.Registry

	// evalBudget replaces evalBudget when positive; the fuzz targets lower it to stay fast.
	evalBudget int
}

// mustHaveRegistry panics without a Registry: a caller's bug, not a problem of the file.
func (o LoadOptions) mustHaveRegistry() {
	if o.Registry == nil {
		panic("spec: LoadOptions.Registry is nil; pass the program's stage registry (stage.NewRegistry)")
	}
}

// EnvPrefix is the prefix of environment variables that set experiment variables.
const EnvPrefix = "DMLRUN_VAR_"

// Experiment is a decoded, validated and expanded experiment file.
//
// When Load or Parse return error diagnostics the Experiment is still returned, with what
// could be decoded, so that callers can render diagnostics with Files; its Nodes are then
// not fit to run.
type Experiment struct {
	Path   string
	Nodes  []*Node              // every expanded node, blocks in file order, instances in value order
	Files  map[string]*hcl.File // every source buffer read (YAML too), for rendering diagnostics
	Checks map[string]Check     // check blocks by name, for `dmlrun diff --check`
}

// Node returns the node with the given address string, or nil.
func (e *Experiment) Node(addr string) *Node {
	for _, n := range e.Nodes {
		if n.Addr.String() == addr {
			return n
		}
	}
	return nil
}

// NodesOf returns the nodes expanded from one block ("train.nir"), in instance order.
func (e *Experiment) NodesOf(block string) []*Node {
	var out []*Node
	for _, n := range e.Nodes {
		if n.Addr.Block() == block {
			out = append(out, n)
		}
	}
	return out
}

// Check is a `check "name" {}` block: the regression gate of `dmlrun diff --check`.
type Check struct {
	Baseline, Candidate string             // block names, e.g. "train.baseline"
	Tolerances          map[string]float64 // metric name -> largest allowed drop
	Range               hcl.Range          // the block's definition range
}

// Addr names one node: a stage kind, a block name and, for expanded blocks, an instance.
type Addr struct {
	Kind, Name string
	Instance   string // "" when the block is not expanded; "seed=0", "embed_dim=128,seed=0", "train.nir[seed=1]"
}

// String renders "train.nir", "train.nir[seed=1]" or "evaluate.test[train.nir[seed=1]]".
func (a Addr) String() string {
	if a.Instance == "" {
		return a.Block()
	}
	return a.Block() + "[" + a.Instance + "]"
}

// Block renders the block part of the address, "train.nir".
func (a Addr) Block() string { return a.Kind + "." + a.Name }

// ParseAddr parses the output of Addr.String.
func ParseAddr(s string) (Addr, error) {
	block, inst := s, ""
	if i := strings.IndexByte(s, '['); i >= 0 {
		if !strings.HasSuffix(s, "]") {
			return Addr{}, fmt.Errorf("address %q: missing closing ]", s)
		}
		block, inst = s[:i], s[i+1:len(s)-1]
		if inst == "" {
			return Addr{}, fmt.Errorf("address %q: empty instance", s)
		}
	}
	kind, name, ok := strings.Cut(block, ".")
	if !ok || kind == "" || name == "" || strings.Contains(name, ".") {
		return Addr{}, fmt.Errorf("address %q: want <kind>.<name>[<instance>]", s)
	}
	return Addr{Kind: kind, Name: name, Instance: inst}, nil
}

// Node is one unit of work: one instance of a stage block.
type Node struct {
	Addr      Addr
	Params    stage.Params // canonical values, defaults filled; "seed" when expanded by seeds
	Inputs    []Ref        // edges in the order written
	DeclRange hcl.Range    // the block header
}

// Ref is one edge: the parameter that wrote it, the node it points at, and where.
type Ref struct {
	Param  string // "dataset", "models", "from", "depends_on"
	Target Addr
	Range  hcl.Range // the reference expression
}

// Load reads an experiment file; the format follows the extension (.hcl, .yaml, .yml).
// It is LoadContext without a way to interrupt it.
func Load(path string, opts LoadOptions) (*Experiment, hcl.Diagnostics) {
	return LoadContext(context.Background(), path, opts)
}

// LoadContext is Load that stops early when ctx is done (a signal, a deadline): decoding
// checks ctx between blocks, between local values and at every step of its evaluation
// budget, and then returns what it has, with an error diagnostic without a range whose
// Extra is an Interrupted. Callers usually check ctx.Err() and report the interruption
// instead of the diagnostics.
func LoadContext(ctx context.Context, path string, opts LoadOptions) (*Experiment, hcl.Diagnostics) {
	opts.mustHaveRegistry()
	if ctx.Err() != nil {
		return &Experiment{Path: path, Files: map[string]*hcl.File{}}, hcl.Diagnostics{interruptedDiag(ctx)}
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return &Experiment{Path: path, Files: map[string]*hcl.File{}}, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read experiment file",
			Detail:   fmt.Sprintf("Reading %s failed: %v.", path, err),
		}}
	}
	return ParseContext(ctx, path, src, opts)
}

// Parse decodes an experiment from src; filename picks the format by its extension and
// names the source in diagnostics. All problems found are returned at once; the
// Experiment is never nil.
func Parse(filename string, src []byte, opts LoadOptions) (*Experiment, hcl.Diagnostics) {
	return ParseContext(context.Background(), filename, src, opts)
}

// ParseContext is Parse that stops early when ctx is done; see LoadContext.
func ParseContext(ctx context.Context, filename string, src []byte, opts LoadOptions) (*Experiment, hcl.Diagnostics) {
	opts.mustHaveRegistry()
	switch strings.ToLower(filepath.Ext(filename)) {
	case ".hcl":
		return parse(ctx, filename, src, opts, formatHCL)
	case ".yaml", ".yml":
		return parse(ctx, filename, src, opts, formatYAML)
	}
	return &Experiment{Path: filename, Files: map[string]*hcl.File{}}, hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Unknown experiment file format",
		Detail:   fmt.Sprintf("%s: the file name must end in .hcl, .yaml or .yml.", filename),
	}}
}

// InstancePairs splits an instance ("embed_dim=16,lr=0.001,seed=0") into its key=value
// pairs at the commas outside brackets, braces and quotes (a matrix value may be a list
// or an object: "tau=[10,20],seed=0").
func InstancePairs(inst string) []string {
	if inst == "" {
		return nil
	}
	var out []string
	depth, start, quoted := 0, 0, false
	for i := 0; i < len(inst); i++ {
		c := inst[i]
		switch {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			depth--
		case c == ',' && depth == 0:
			out = append(out, inst[start:i])
			start = i + 1
		}
	}
	return append(out, inst[start:])
}
