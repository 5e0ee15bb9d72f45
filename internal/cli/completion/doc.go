// Package completion is the shell completion of dmlrun's arguments, on top of cobra's own
// `dmlrun completion bash|zsh|fish|powershell` scripts (which call the hidden __complete
// command): experiment files for FILE, the block and node addresses of the file named
// first for ADDR and NODE (train.x, train.x[seed=0], evaluate.x[embed.x[train.y]]) and for
// --target, diff's sides (x, x[embed_dim=16], x[embed_dim=16,seed=0], x@val), evaluate
// blocks for --evaluate, and the store's 12-digit keys for KEY.
//
// Register reads what each command takes from its Use line ("show FILE ADDR", "verify
// [KEY...]"), so a new command whose Use follows that convention completes without a
// change here; a command that sets its own ValidArgsFunction keeps it.
//
// Completing decodes the experiment file with the program's stages and nothing more: it
// never reads a dataset folder, computes no key, never loads libtorch and never creates a
// store. A file that does not decode completes with what was decoded before the problem,
// and diagnostics are never printed (the shell would show them as candidates).
//
// What it is not: the scripts (cobra's), the address syntax (spec) or how commands
// resolve an address (cmdutil.FindNode, pipeline's targets).
package completion
