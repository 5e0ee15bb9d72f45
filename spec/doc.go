// Package spec reads dmlrun experiment files, written in HCL or in YAML, into one typed
// model: an Experiment whose Nodes are every unit of work with its parameters (defaults
// filled, sweeps expanded) and its reference edges. Problems come back as hcl.Diagnostics
// that point at file:line:col; WriteDiagnostics renders them with source snippets and
// DiagnosticsJSON as data.
//
// spec is not the planner: it computes no content keys, sorts nothing topologically beyond
// finding cycles, and never runs a stage (package pipeline does those). It does not know
// the stages either: each stage registers its block type and parameter schema with package
// stage, and spec decodes a block against that schema. It reads no dataset folders; a
// missing path is found when a stage runs.
//
// # The file format
//
// An experiment file declares blocks. Three block types belong to the format itself:
//
//	variable "data_root" {             # an input; set with -var data_root=... or
//	  default     = "../Datasets"      # the environment variable DMLRUN_VAR_data_root
//	  description = "where the datasets live"
//	}
//
//	locals {                           # named values computed from variables and each other
//	  epochs = 100
//	  root   = "${var.data_root}/cub200"
//	}
//
//	check "nir_not_worse" {            # a regression gate for `dmlrun diff --check`
//	  baseline   = train.baseline
//	  candidate  = train.nir
//	  tolerances = { "e_recall@1" = 0.02 }   # metric -> largest allowed drop (>= 0)
//	}
//
// Every other top-level block type is a stage, one per registered stage kind (dataset,
// train, evaluate, report), labelled with a name that is unique within its type:
//
//	dataset "cub" {
//	  kind = "cub200"
//	  root = local.root
//	}
//
//	train "nir" {
//	  dataset   = dataset.cub              # a reference: an edge, not a value
//	  seeds     = [0, 1, 2, 3, 4]          # one node per seed
//	  matrix    = { embed_dim = [128, 512] }   # one node per combination (x seeds)
//	  arch      = "resnet50_frozen_normalize"
//	  loss "nir" { w_align = 0.0075 }      # a variant block: the label picks the kind
//	  schedule  = { epochs = local.epochs, batch_size = 90, lr = 1e-5, tau = [100], gamma = 0.1, warmup = 1 }
//	}
//
//	evaluate "test" {
//	  models  = [train.baseline, train.nir]   # one evaluate node per trained model
//	  metrics = ["e_recall@1", "nmi"]
//	}
//
//	report "table" { from = evaluate.test }
//
// Names (of blocks, variables and locals) start with a letter or underscore and contain
// letters, digits, underscores and dashes.
//
// # Arguments of a stage block
//
// Each stage declares its arguments (stage.Param): their type, default, whether they are
// required, allowed values or the smallest allowed number (embed's batch_size is at least
// 1), and a one-line description. Types and how they are written:
//
//	string               "text" (numbers and bools convert: 128 becomes "128")
//	int                  3; 3.0 is accepted as 3, 3.5 is an error
//	float                1e-5, 0.1, or 3 (becomes 3.0)
//	bool                 true, false
//	list of strings/ints/floats   ["a", "b"], [0, 1], [0.1, 0.2]
//	object               { epochs = 100, lr = 1e-5 }: known fields only; fields left out
//	                     take their defaults, and an object left out entirely is built
//	                     from its fields' defaults
//	map                  { "e_recall@1" = 0.02 }: any keys, number values
//	reference            dataset.cub: the name of another block
//	list of references   [train.baseline, train.nir]
//	variant block        loss "nir" { w_align = 0.01 }: at most one per block; the label
//	                     chooses the kind, the body its arguments
//
// An argument set to null counts as not written. Values are canonical after decoding, so
// that files which mean the same thing give identical nodes: ints are int64, floats
// float64, lists []string/[]int64/[]float64, objects map[string]any with defaults filled,
// maps map[string]float64, and a variant block map[string]any{"kind": label, ...} with its
// defaults filled. Attribute order, spelled-out defaults, 1 versus 1.0 for a float, and
// HCL versus YAML make no difference.
//
// Three arguments are common to every stage block and are not part of a stage's schema:
//
//	seeds      = [0, 1, 2]     # expand: one node per seed; the node's params get "seed" (int)
//	matrix     = { embed_dim = [128, 512], lr = [1e-5, 1e-4] }
//	                           # expand: one node per combination of the listed values;
//	                           # each key must be a value argument of the stage and must not
//	                           # also be written as an argument
//	depends_on = [dataset.cub] # extra edges that carry no parameter
//
// seeds and matrix multiply. Each node's address is <kind>.<name>[<instance>], the
// instance listing key=value pairs sorted by key, for example
// train.nir[embed_dim=128,seed=0]; nodes come in that order with the first key varying
// slowest. An unexpanded block has the address <kind>.<name>. A block expands to at most
// 10000 nodes.
//
// # References and the graph
//
// A reference names a whole block, <kind>.<name> (or "${<kind>.<name>}", the same
// thing). It is an edge, not a value: references
// may be written only in reference arguments and in depends_on, and a reference where a
// value is expected is an error. A reference to a block with several instances means all
// of them: a seeded train over one dataset gives every train node an edge to that dataset
// node, and a report with from = evaluate.test gets an edge to every evaluate node.
//
// A stage may expand over one reference argument (stage.Def.ExpandOver; evaluate does over
// models): it then gets one node per referenced node, whose instance is that node's
// address, as in evaluate.test[train.nir[seed=1]], each with an edge to that node only.
// Such blocks take no seeds or matrix of their own.
//
// Node.Inputs lists edges in the order written: arguments in source order, a list's
// elements in order, and a target's instances in order. Reference cycles are errors that
// name every block in the cycle (in file order) and one path around it. A block with an
// error, and every block that depends on it, gets no nodes.
//
// # Expressions
//
// HCL expressions work as usual: arithmetic, conditionals, string templates
// ("${var.data_root}/cub200"), for expressions, and the functions concat, join, length,
// lower, max, min, range (at most 1024 values) and upper. They may read var.<name> and
// local.<name>. A variable's default is a constant. A -var or DMLRUN_VAR_<name> value is
// a string converted to the type of the variable's default: a number, a bool (true,
// false, 1, 0), a string, or for a list or object default an HCL expression such as
// "[0, 1, 2]". A variable without a default is a string and must be set. -var takes
// precedence over the environment, which takes precedence over the default; a -var for
// an undeclared variable is an error.
//
// # YAML
//
// A YAML experiment is one document with the same meaning, spelled as mappings:
//
//	variables:
//	  data_root: { default: ../Datasets }
//	locals:
//	  epochs: 100
//	dataset:
//	  cub: { kind: cub200, root: "${var.data_root}/cub200" }
//	train:
//	  nir:
//	    dataset: dataset.cub          # a reference is a plain string <kind>.<name>
//	    seeds: [0, 1]
//	    loss: { nir: { w_align: 0.0075 } }
//	    schedule: { epochs: "${local.epochs}" }
//	evaluate:
//	  test: { models: [train.baseline, train.nir] }
//	check:
//	  nir_not_worse: { baseline: train.baseline, candidate: train.nir, tolerances: { "e_recall@1": 0.02 } }
//
// The top-level keys are variables, locals, check and the stage kinds. A labelled block
// type is a mapping from names (or, for variant blocks, kinds) to bodies; a body is a
// mapping of arguments; an empty body may be written {} or left null. A string containing
// "${" or "%{" is an HCL template evaluated like the HCL format's (a string that is one
// interpolation, "${local.epochs}", keeps the value's type). Numbers written in decimal
// are read exactly as HCL reads them, so 0.0075 is the same float64 in both formats.
// Aliases (and so merge keys), tags other than the core ones (!!str, !!int, ...) and
// several documents in one file are errors. Unknown keys are reported like unknown HCL arguments.
//
// # Diagnostics
//
// Load and Parse decode as much as they can and return every problem at once, sorted by
// position. Unknown arguments, block types, fields, matrix keys, references and variables
// come with the nearest valid name ("Did you mean ...?"); wrong types say which type is
// expected; values outside an allowed set list the allowed ones. Every error about the
// file's content has a Subject range; problems with the environment (an undeclared -var,
// an unreadable file) have none. A YAML syntax error points at the line the YAML parser
// names: the offending line, or for some errors the line where the unfinished mapping,
// list or flow collection starts. Decoding stops after 200 errors ("Too many errors").
//
// LoadContext and ParseContext stop early when their context is done (dmlrun cancels it on
// SIGINT and SIGTERM): decoding checks it between blocks, between local values and at
// every step of evaluation, and returns what it has with an "Interrupted" error without a
// range (its Extra is an Interrupted).
//
// # Limits
//
// So that no file, however small or hostile, crashes decoding or keeps it busy for long,
// these limits apply; each is far beyond what an experiment needs.
//
//   - A file has at most 1 MiB.
//   - Source nests at most 128 levels deep ("Too deeply nested"): in HCL, and in YAML
//     templates, every bracket, brace, parenthesis, quote, template interpolation or
//     %{if}/%{for} directive, operator and condition opens a level, counting the enclosing
//     blocks (operators count until the next comma, or the next = or newline between
//     arguments); in YAML, every mapping and list does.
//   - An evaluated value nests lists and objects at most 128 levels deep, counting the
//     local values it is built from ("Value nested too deeply").
//   - Evaluating the file's variables, locals and arguments touches at most 1,000,000
//     values in all ("Evaluation budget exceeded", at the local or argument that crosses
//     it). A value counts one plus one for every element, recursively, and a string one
//     per 64 bytes; an expression spends the size of every value it reads through var.,
//     local. or a for variable, each time it runs, and the size of what it produces; a
//     step of a for expression costs 4 more, and a function call the size of its result.
//     Ten locals that each refer to the previous one ten times would be 10^10 values; they
//     stop at the sixth.
//   - The expanded experiment has at most 2,000,000 values ("Experiment too large"): every
//     node counts one, plus its parameter values and its edges. A block expands to at most
//     10000 nodes.
package spec
