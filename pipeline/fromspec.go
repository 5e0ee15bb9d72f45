package pipeline

import "dmlrun/spec"

// FromSpec turns a validated experiment's nodes into declarations for Build, keeping what
// spec knows: typed addresses, each block's DeclRange and each reference's Range, so that
// the graph's nodes and edges, and any error Build reports, point into the file. It keeps
// the experiment's node order; the experiment must have been loaded without error
// diagnostics (spec has then resolved every reference and ruled out cycles).
func FromSpec(exp *spec.Experiment) []Decl {
	decls := make([]Decl, 0, len(exp.Nodes))
	for _, n := range exp.Nodes {
		d := Decl{Address: n.Addr, Params: n.Params, DeclRange: n.DeclRange}
		for _, r := range n.Inputs {
			d.Inputs = append(d.Inputs, DeclRef{Param: r.Param, Address: r.Target, Range: r.Range})
		}
		decls = append(decls, d)
	}
	return decls
}
