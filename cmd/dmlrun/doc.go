// Command dmlrun runs deep metric learning experiments declared in HCL or YAML files as a
// graph of stages with content-addressed caching.
//
// # Commands
//
//	dmlrun validate FILE [--json] [-var name=value]...
//	    Decode and check an experiment; every problem is reported as file:line:col with a
//	    fix. --json prints the diagnostics as data. Never opens the store or loads libtorch.
//
//	dmlrun plan FILE [--target ADDR]... [-var name=value]... [--json] [--detailed-exitcode]
//	    One line per node: "= cached", "+ create", "~ re-run" or "> resume", its short key and
//	    why ("param schedule.lr changed 1e-05 -> 2e-05", "input train.nir[seed=0] changed",
//	    "stage version 2 -> 3", "artifact corrupted: file x digest mismatch").
//	    --detailed-exitcode: exit 2 when anything would run, 0 when all is cached.
//
//	dmlrun apply FILE [--target ADDR]... [-j N] [--device auto|cpu|cuda:N] [--threads N]
//	             [-var name=value]... [-v]
//	    Run what is not cached, in dependency order, N nodes at a time (libtorch stages one
//	    at a time). Progress bars on a terminal, plain lines otherwise; -v echoes stage logs.
//	    Ctrl-C stops scheduling and keeps finished nodes; a second Ctrl-C exits at once.
//	    An interrupted train node resumes from its last checkpoint on the next apply.
//
//	dmlrun show FILE ADDR [--json] [--cat NAME]
//	    A node's artifact: directory, parameters, inputs, provenance (dmlrun and libtorch
//	    versions, device, host, times) and files with sizes and SHA-256 digests.
//
//	dmlrun cache ls [--json]          list artifacts (key, stage, node, size, time)
//	dmlrun cache verify [KEY...]      re-hash artifacts; exit 1 if any is damaged
//	dmlrun cache gc [-n] FILE...      remove artifacts none of the files use (-n: dry run)
//
//	dmlrun diff FILE A B | FILE_A:A FILE_B:B | --check FILE | --expect EXPECTED.json FILE B
//	    Compare two train blocks' metrics over seeds (means, difference, bootstrap 95% CI,
//	    which is better); --check exits 3 on a regression beyond the tolerances.
//
//	dmlrun inspect FILE ADDR [--classes N] [--samples N] [--seed S] [--json]
//	    How non-isotropic a trained NIR flow's class distributions are.
//
//	dmlrun stages                     every stage block's arguments (Markdown)
//	dmlrun version                    dmlrun and libtorch versions
//	dmlrun completion bash|zsh|fish|powershell
//
// ADDR is a node address, "train.nir[seed=0]", or for --target also a block address,
// "train.nir", meaning all its instances; a target brings the nodes it depends on along.
// Single-dash long flags (-var, -target, -json, -detailed-exitcode) are accepted as in
// Terraform.
//
// # Global flags and environment
//
//	--store DIR            the store (default results/ in the working directory). Safe on
//	                       one machine's local disk; not on network file systems.
//	DMLRUN_VAR_<name>      sets experiment variable <name> (-var wins).
//	DMLRUN_DEBUG_KEYS=1    print every field fed into every content key to stderr.
//	DMLRUN_SHIM            the libdmlshim.so to load (a file or folder; default: next to dmlrun,
//	                       the build folder, ../torch/csrc/build, then LD_LIBRARY_PATH/system).
//	DMLRUN_FAILPOINT       arm fault points for crash tests (internal/failpoint).
//	NO_COLOR               no colour in diagnostics.
//
// # Wiring
//
// main builds the stage registry from the stage packages' definitions (load, train, embed,
// evaluate, report; a new stage is one more Def() there) and hands it with torch.Version to
// internal/cli/root.Main. The commands live in their own packages under internal/cli; this
// package has no logic and nothing registers itself at init time.
//
// # Exit status
//
//	0 success; 1 any error (diagnostics, a failed node, interruption); 2 plan
//	--detailed-exitcode found changes; 3 diff --check found a regression.
//
// # Store layout
//
//	results/<key[:2]>/<key>/       one read-only artifact per key, with manifest.json
//	results/tmp/<key>.partial/     a resumable stage's interrupted output
//	results/tmp/<key>.failed.log   the log of the last failed run of a key
//	results/locks/, results/index/ per-key locks; per-experiment history for plan reasons
package main
