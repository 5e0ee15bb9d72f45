// Package stage is the contract between dmlrun's core (spec, pipeline, cmd) and the stages
// (stages/load, stages/train, stages/embed, stages/evaluate, stages/report, and test-only
// stages).
//
// A stage declares a Def: its block type, its implementation version, its parameter schema
// and its run function. The program collects the Defs it links into a Registry value
// (cmd/dmlrun builds it; tests build their own), and nothing registers itself globally or
// at init time. spec uses the schema to decode and validate a block and to fill
// defaults; pipeline uses the version and the filled parameters for content keys and calls
// Run with a Context. Neither spec nor pipeline ever reads a stage's parameters by name, and
// no stage parses files or knows about the store: it reads its inputs' directories and writes
// into OutDir.
package stage

import (
	"context"
	"fmt"
	"io"
)

// Type is the type of a parameter value as written in an experiment file.
type Type int

const (
	String     Type = iota // "text"
	Int                    // 3 (decoded as int64)
	Float                  // 1e-5 or 3 (decoded as float64)
	Bool                   // true
	StringList             // ["a", "b"]
	IntList                // [0, 1, 2] (seeds, milestones)
	FloatList              // [0.1, 0.2]
	Object                 // { epochs = 100, lr = 1e-5 }: Fields gives its members
	Ref                    // dataset.cub: an edge to one block (all its instances)
	RefList                // [train.baseline, train.nir]: edges to several blocks
	Map                    // free-form string -> number map (e.g. tolerances = { e_recall@1 = 0.02 })
)

var typeNames = [...]string{"string", "int", "float", "bool", "list of strings", "list of ints",
	"list of floats", "object", "reference", "list of references", "map"}

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", int(t))
}

// Param describes one attribute (or one labelled nested block, see Variants) of a stage block.
//
// Values after decoding are canonical Go values: string, int64, float64, bool, []string,
// []int64, []float64, map[string]any (Object, with defaults filled), map[string]float64 (Map).
// References are not values: spec turns them into Inputs of the node. Canonical and
// CanonicalParams turn Go-written or JSON-decoded values into this form.
type Param struct {
	Name     string
	Type     Type
	Default  any               // nil with Required false means "absent unless written"
	Required bool              // the file must set it
	Enum     []string          // allowed values for String parameters (empty: any)
	Min      *float64          // smallest allowed value of an Int or Float (or of each IntList/FloatList element); nil: no bound
	Max      *float64          // largest allowed value, likewise
	Above    *float64          // exclusive lower bound, likewise ("a positive learning rate": Above 0)
	Aliases  map[string]string // other spellings of Enum values or Variants kinds, for "did you mean" ("proxyanchor" -> "oproxy")
	// NoKey leaves the parameter out of the content key: it says where content lives (a
	// dataset's root), and the content itself enters the key through the stage's KeyInputs,
	// so spelling the path another way ("./data" for "data") must not make a new key.
	NoKey   bool
	RefKind string  // for Ref/RefList: the block type it must point at ("dataset", "train", ...)
	Fields  []Param // for Object: its members
	Doc     string  // one sentence for validation messages and the README

	// Variants makes this parameter a labelled nested block, e.g. `loss "nir" { w_align = 0.01 }`.
	// The label selects the variant; its body is decoded against that variant's fields. The
	// decoded value is map[string]any{"kind": label, <fields with defaults>}.
	Variants map[string][]Param
	// VariantDocs has one sentence per variant kind, for the reference.
	VariantDocs map[string]string
}

// Def is what a stage declares; a Registry holds the Defs of one program.
type Def struct {
	Kind    string  // block type in experiment files: "dataset", "train", "evaluate", "report"
	Version int     // bump when the stage's numerics or artifact format change: it changes keys
	Params  []Param // the block's parameters (common ones like seeds/matrix are spec's own)
	Doc     string

	// ExpandOver names a RefList/Ref parameter whose referenced instances each get their own
	// node (evaluate over models: one node per trained model). Empty: one node per instance of
	// the block itself.
	ExpandOver string

	// Resumable stages find their partial OutDir from an interrupted run left in place
	// (Context.Resumed is true) and continue from it; for other stages the pipeline empties it.
	Resumable bool

	// InputAddressesInKey puts the addresses of the node's inputs into its key, for stages
	// whose output names its inputs (a report's rows): renaming a block in the file then
	// recomputes the report, with the new names, and nothing upstream of it. Addresses
	// are otherwise never part of a key.
	InputAddressesInKey bool

	// Exclusive stages (those that use libtorch) run one at a time in a process, whatever -j
	// says: libtorch already uses every core, and torch scopes are process-wide.
	Exclusive bool

	// KeyInputs, when set, returns a digest of the external content a node reads (files
	// outside the store, such as a dataset folder), as a string that the pipeline feeds into
	// the node's key. It must cover everything outside the parameters and inputs that can
	// change the node's result, and nothing else, and it should be cheap when that content
	// has not changed (cache file digests by path, size and mtime). The pipeline calls it
	// while building the graph (plan, apply, show, cache gc), once per node, before any
	// node runs; Run then finds the returned string in Context.KeyInputs and should check
	// that what it reads still matches it. An error means the key cannot be known: plan
	// shows the node with the error as its reason, apply refuses to run anything. The
	// error should say what is missing and what is expected (path, layout). nil (the
	// default) means the node reads nothing outside its parameters and inputs.
	KeyInputs func(ctx context.Context, p Params) (string, error)
	// KeyInputsName names that content in plan reasons ("dataset content" gives "dataset
	// content changed"); empty means "external content".
	KeyInputsName string

	// Decode turns a node's canonical parameters into the stage's typed config and returns
	// every problem with a parameter path. spec calls it for each node of a block that
	// decoded without errors, so `validate` reports semantic problems (ranges, names looked
	// up in a plug-in table, cross-field rules) at file:line:col; the executor calls it again
	// and hands the config to Run in Context.Config. It must not modify p (callers pass a
	// node's own parameters). Typed sets it. nil: no typed config.
	Decode func(p Params) (config any, problems Problems)

	Run func(ctx *Context) error
}

// Input is one upstream artifact a node reads.
type Input struct {
	Param    string         // the parameter that referenced it ("dataset", "models", ...)
	Addr     string         // e.g. "train.nir[seed=1]", as the current experiment file names it
	Block    string         // the referenced block's name ("nir")
	Instance string         // its instance ("seed=1", "embed_dim=16,seed=0"; "" when not expanded)
	Stage    string         // its stage kind
	Key      string         // its content key
	Dir      string         // its finished artifact directory (read-only)
	Params   map[string]any // its parameters (defaults filled)

	// Ancestors are, for each stage kind upstream of this input, the nearest nodes of that
	// kind (pipeline's Graph.LineageOf): for an evaluate input, the embed node it scored and
	// the train node that embedding came from. Reports label rows by them, never by what an
	// artifact recorded when it was first computed. Their Dir is empty.
	Ancestors []Input
}

// Progress reports progress of one long loop; implementations draw a bar on a terminal and
// print plain lines otherwise.
type Progress interface {
	Start(label string, total int64) Bar
}

// Bar is one running progress indicator.
type Bar interface {
	Add(n int64)
	SetStatus(s string) // short text shown beside the bar, e.g. "loss 0.4312 skipped 0"
	Finish()
}

// Context is what Run gets.
type Context struct {
	context.Context
	Addr     string    // this node's address, e.g. "train.nir[seed=1]"
	Key      string    // this node's content key
	Params   Params    // this node's parameters, defaults filled
	Inputs   []Input   // in the order the references were written
	OutDir   string    // write every output file here; it becomes the artifact on success
	Resumed  bool      // OutDir holds a previous interrupted attempt (Resumable stages only)
	Log      io.Writer // human-readable log lines (also saved to OutDir/log.txt)
	Progress Progress  // never nil
	Device   string    // requested device: "auto", "cpu", "cuda:N"
	Threads  int       // intra-op threads for libtorch
	// CPUs is how many CPUs the node may use, its libtorch threads included: under apply
	// -j N its share of the machine, which other nodes use the rest of; 0 is every CPU
	// this process may run on (runtime.NumCPU).
	CPUs int

	// Config is Def.Decode's result for Params (nil for stages without Decode).
	Config any

	// KeyInputs is what Def.KeyInputs returned when this node's key was made ("" for
	// stages without the hook). A stage that finds its external content different now
	// must fail rather than store a result under a key that does not describe it.
	KeyInputs string
}

// InputsOf returns the inputs that came through one parameter.
func (c *Context) InputsOf(param string) []Input {
	var out []Input
	for _, in := range c.Inputs {
		if in.Param == param {
			out = append(out, in)
		}
	}
	return out
}
