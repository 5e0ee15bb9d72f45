// Package pipeline turns an experiment's expanded nodes into a DAG with content keys,
// decides what must run (the plan) and runs it (the executor).
//
// Graph: Build makes a Graph from declarations in named steps (add nodes, connect
// references, order, key). FromSpec makes the declarations from a validated
// spec.Experiment and keeps what spec knows: each node's typed address (spec.Addr: kind,
// name, instance), the range of its block header (Node.DeclRange) and the range of each
// reference (Edge.Range). The structure lives in one dag.Graph (package dag), which gives
// the topological order (stable: ties in declaration order), the cycle report, the
// ancestors of --target nodes (Select), the executor's ready set and lineage walks
// (Graph.Lineage: for an evaluate node, its embed and train ancestors). Problems that keep
// Build from making a graph are *GraphErrors carrying those ranges; Diagnostics turns them
// into hcl diagnostics. For an experiment spec accepted they cannot happen (spec reports
// unknown block types, undeclared references and cycles at their source first), so
// pipeline checks only what it needs to build the graph and adds no validation of its own.
//
// Keys: a node's key is SHA-256 over a canonical encoding (see Hasher) of its stage kind,
// the stage's implementation version, its parameters with defaults filled except those
// whose stage.Param is NoKey (at the top level, in an Object or in a variant: they say
// where content lives, and the content enters the key through KeyInputs), the digest of
// the external content it reads (what its stage's stage.Def.KeyInputs hook returns, e.g.
// a dataset folder's digest; absent for stages without the hook) and its inputs' keys in
// the order written. A hook that fails (a dataset folder missing on this machine) leaves
// the node and everything downstream without a key (Node.KeyErr): plan shows them with the
// error as their reason, apply refuses to start. Node addresses, file names and spelling
// are not part of a key, so two files that mean the same thing give the same keys, and two
// nodes that compute the same thing share one artifact. Manifests record every parameter,
// NoKey ones included; ManifestKey recomputes a stored artifact's key with the same
// hashing. Setting DMLRUN_DEBUG_KEYS=1 (the CLI passes BuildOptions.KeyDebug) prints every
// field fed into every key, and the NoKey parameters left out.
//
// Plan: MakePlan gives each node an Action (cached, create, re-run, resume) and a reason
// for people, using the store's index to say what changed since the node last ran. Apply
// decides from keys alone and re-checks every key under its lock before running it.
//
// Executor: Apply runs nodes in topological order, -j at a time, stage.Def.Exclusive
// stages one at a time, or, with Executor.Isolate, each in a process of its own
// (IsolatedThreads of the threads each), -j at a time like the others; after a failure or cancellation it starts nothing new and lets
// running nodes finish. Before a stage runs, the executor decodes the node's parameters
// with the stage's Def.Decode and hands the typed config to Run in stage.Context.Config;
// problems there fail the node (spec reports them at validate time, so here they are a
// bug). Each stage gets a stage.Context with its inputs' artifact directories, an output
// directory from the store, a log (kept as log.txt in the artifact) and a progress sink.
//
// Executors elsewhere: Runner is the executor interface; Executor (local) is one, the Slurm
// executor (package pipeline/slurm) another. PlanNodes makes the checks every Runner makes
// before running anything (stale plan, unknown keys) and NewTracker hands out ready nodes.
// A node that runs in another process is frozen as a Job (Graph.Job, EncodeJob): stage,
// version, parameters, key inputs, input keys and addresses with their lineage, device and
// threads. Executor.RunJob runs it through the same code as Apply runs each node (lock, Get,
// Begin, Run, Commit, index), after recomputing its key from that material, so a job frozen
// by another dmlrun build or edited by hand never commits under a key that does not
// describe it.
//
// What it is not: pipeline does not parse experiment files (package spec does; FromSpec
// adapts its result), never reads a stage's parameters by name (Decode and the schema's
// NoKey marks are the stage's own), never imports a stage or libtorch (the caller supplies
// the libtorch version for provenance), and does not know the store's layout (package
// store does). Graph algorithms are package dag's.
package pipeline
