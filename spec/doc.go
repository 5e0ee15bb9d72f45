// Package spec decodes dmlrun experiment files (HCL or YAML) into one typed, validated,
// expanded model: Experiment with its Nodes and their reference edges.
//
// (Full format documentation follows in this file; see below.)
package spec
