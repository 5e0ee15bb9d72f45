// Package gc is `dmlrun cache gc`: key every node of the given experiment files and
// remove every artifact, and every leftover of an interrupted run, that none of them uses,
// skipping what a running apply holds. It refuses to remove anything while some key of the
// files cannot be computed.
//
// What it is not: the store's removal rules and locks (package store).
package gc
