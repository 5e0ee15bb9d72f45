// Package validate is `dmlrun validate`: decode and check an experiment file and report
// every problem at file:line:col, without opening the store, loading libtorch or reading
// dataset folders.
//
// What it is not: the checks themselves (spec and the stages' Decode do them) and the
// graph (pipeline); it wires them and renders what they find.
package validate
