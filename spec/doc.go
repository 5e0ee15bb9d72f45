// Package spec reads dmlrun experiment files, written in HCL or in YAML, into one typed
// model: an Experiment whose Nodes are every unit of work with its parameters (defaults
// filled, sweeps expanded) and its reference edges. Problems come back as hcl.Diagnostics
// that point at file:line:col; WriteDiagnostics renders them with source snippets and
// DiagnosticsJSON as data.
//
// spec is not the planner: it computes no content keys, sorts nothing topologically beyond
// finding cycles, and never runs a stage (package pipeline does those). It does not know
// the stages either: LoadOptions.Registry (a stage.Registry, required; cmd/dmlrun builds the
// program's) gives each block type's parameter schema, which spec decodes and
// validates the block against, and its Decode, which checks the decoded values the way the
// stage will (ranges, names in the stage's tables, rules across fields); spec knows no
// stage's parameter names. It reads no dataset folders; a missing path is found when a
// stage runs.
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
// required, allowed values (with other spellings that "Did you mean" maps to them: a loss
// "proxyanchor" suggests "oproxy"), bounds of numbers (at least, at most, greater than:
// embed's batch_size is at least 1, a learning rate greater than 0; for lists, each
// element), and a one-line description. Numbers must be finite. Types and how they are
// written:
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
//	matrix     = { embed_dim = [128, 512], "schedule.lr" = [1e-5, 1e-4] }
//	                           # expand: one node per combination of the listed values
//	depends_on = [dataset.cub] # extra edges that carry no parameter
//
// A matrix key is a value argument of the stage (embed_dim), or a path of names joined by
// dots into an object argument or a variant block: "schedule.lr" sets the lr field of
// schedule, "loss.w_align" the w_align field of the loss block (of the kind written, or of
// the default kind when no block is written), and deeper paths go into nested objects. The
// rest of the object or block is as written or defaulted; a path is written in quotes in
// HCL (in YAML, schedule.lr: [...] is a plain key). What a key sets must not also be
// written out in the block: embed_dim = 128 beside a matrix embed_dim, or lr inside
// schedule = { ... } or loss "nir" { ... } beside "schedule.lr" or "loss.lr", is an error,
// and so are two keys one inside the other ("schedule" and "schedule.lr"). A member of an
// object computed by an expression (schedule = local.schedule, var.schedule, merge(...)) is
// not written out: it is the base the matrix overrides in each instance, so that a shared
// schedule is swept without copying it. The kind of a variant block cannot be swept: write
// one block per kind.
//
// seeds and matrix multiply. Each node's address is <kind>.<name>[<instance>], the
// instance listing label=value pairs sorted by label, for example
// train.nir[embed_dim=128,seed=0]; nodes come in that order with the first label varying
// slowest. An axis's label is the last name of its key (lr for "schedule.lr", so
// train.nir[lr=0.001,seed=0]) unless another axis of the same block ends in the same name,
// in which case it is the whole key (matrix = { lr = [...], "schedule.lr" = [...] } gives
// train.nir[lr=1e-05,schedule.lr=0.001]); seeds are labelled seed. A key that is an argument
// is its own label, so addresses of files without paths are what they always were. An
// unexpanded block has the address <kind>.<name>. A block expands to at most 10000 nodes.
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
// error, and every block that depends on it, gets no nodes; a block whose only errors are
// in its references (or in the blocks they name) still has its values checked by its stage
// (see Diagnostics), so that one validation reports every problem.
//
// # Expressions
//
// HCL expressions work as usual: arithmetic, conditionals, string templates
// ("${var.data_root}/cub200"), for expressions, and the functions concat, join, length,
// lower, max, merge, min, range (at most 1024 values) and upper. They may read var.<name>
// and local.<name>. A variable's default is a constant. A -var or DMLRUN_VAR_<name> value
// is a string converted to the type of the variable's default: a number, a bool (true,
// false, 1, 0), a string, or for a list or object default an HCL expression such as
// "[0, 1, 2]". A variable without a default is a string and must be set. -var takes
// precedence over the environment, which takes precedence over the default; a -var for
// an undeclared variable is an error.
//
// merge(a, b, ...) takes objects and returns one with the members of all of them: a later
// argument's member replaces an earlier one's, and where both are objects they are merged
// the same way, member by member, at any depth. Anything else (a number, a list, an object
// over a number) replaces whole; lists are not concatenated, null is an error. It overrides
// fields of a shared value:
//
//	locals { schedule = { epochs = 100, lr = 1e-5, tau = [100], gamma = 0.1 } }
//	train "fast" {
//	  schedule = merge(local.schedule, { lr = 3e-3 })   # epochs 100, lr 3e-3, tau [100], gamma 0.1
//	  ...
//	}
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
// YAML has no expressions or functions of its own; a template string is the only place
// they appear, and there they are HCL's, merge included: schedule: "${merge(local.schedule,
// { lr = 3e-3 })}". A matrix path is a plain key: matrix: { schedule.lr: [1e-3, 3e-3] }.
//
// The top-level keys are variables, locals, check and the stage kinds. A labelled block
// type is a mapping from names (or, for variant blocks, kinds) to bodies; a body is a
// mapping of arguments; an empty body may be written {} or left null. A string containing
// "${" or "%{" is an HCL template evaluated like the HCL format's (a string that is one
// interpolation, "${local.epochs}", keeps the value's type). Numbers written in decimal
// are read exactly as HCL reads them, so 0.0075 is the same float64 in both formats.
// YAML aliases (and so YAML merge keys, <<), tags other than the core ones (!!str, !!int, ...) and
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
// After a block decodes without errors, its stage's Decode (stage.Def.Decode) checks the
// parameters of every node the block expands to, and each problem it returns is reported
// with the stage's summary and sentence at the source of the problem's parameter path:
//
//	embed_dim = -3                       "embed_dim": the value, -3
//	schedule  = { lr = -1 }              "schedule.lr": the -1
//	schedule  = local.schedule           "schedule.lr": the expression local.schedule (it
//	                                     has no source of its own), with the attribute
//	                                     as context; likewise var.x, merge(...), a for
//	                                     expression
//	metrics   = ["nmi", "recal@1"]       "metrics[1]": the "recal@1"
//	loss "nir" { w_align = 2 }           "loss.w_align": the 2; "loss": the label "nir"
//	matrix    = { "schedule.lr" = [0, 1e-3] }   "schedule.lr" of the first instances: the 0
//	seeds     = [0, -1]                  "seed" of the second instance: the -1
//
// A path that was not written (a default) goes to the nearest enclosing one that was: a
// defaulted field of a written object to the object, a defaulted field of a variant block
// to its label, anything else (and the path "", the block as a whole) to the block's label.
// A problem that several instances share (the same place, summary and detail: most
// problems of a seeded block) is reported once.
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
//     step of a for expression costs 4 more, and a function call the size of its result
//     (merge also the size of its arguments, which it walks).
//     Ten locals that each refer to the previous one ten times would be 10^10 values; they
//     stop at the sixth.
//   - The expanded experiment has at most 2,000,000 values ("Experiment too large"): every
//     node counts one, plus its parameter values and its edges. A block expands to at most
//     10000 nodes.
package spec
