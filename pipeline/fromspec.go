package pipeline

import "dmlrun/spec"

// FromSpec turns a validated experiment's nodes into declarations for Build. It keeps the
// experiment's node order; the experiment must have been loaded without error diagnostics.
func FromSpec(exp *spec.Experiment) []Decl {
	decls := make([]Decl, 0, len(exp.Nodes))
	for _, n := range exp.Nodes {
		d := Decl{Addr: n.Addr.String(), Kind: n.Addr.Kind, Name: n.Addr.Name, Params: n.Params}
		for _, r := range n.Inputs {
			d.Inputs = append(d.Inputs, DeclRef{Param: r.Param, Target: r.Target.String()})
		}
		decls = append(decls, d)
	}
	return decls
}
