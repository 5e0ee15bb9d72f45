// Package show is `dmlrun show`: find one node of an experiment (by address, or by a key
// prefix of one of its nodes) or one artifact by a key prefix alone, verify its artifact in
// the store and print its manifest (parameters, inputs, provenance, files with digests) or,
// with --cat, one of its files. A node not in the store is an error that says why, and
// names its queued or running Slurm job and its last failed run's log when there are any.
//
// What it is not: the verification (store.Get re-hashes and re-derives the key), the
// manifest format or the prefix lookup (store, through cmdutil.ResolveKey); it resolves the
// address and renders.
package show
