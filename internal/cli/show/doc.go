// Package show is `dmlrun show`: find one node of an experiment, verify its artifact in
// the store and print its manifest (parameters, inputs, provenance, files with digests) or,
// with --cat, one of its files.
//
// What it is not: the verification (store.Get re-hashes and re-derives the key) or the
// manifest format (store); it resolves the address and renders.
package show
