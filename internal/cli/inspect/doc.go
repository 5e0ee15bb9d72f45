// Package inspect is `dmlrun inspect`: how non-isotropic a trained NIR flow's class
// densities are, for one finished train node of an experiment.
//
// What it is not: the inspection or the rule that only a nir loss can be inspected
// (train.InspectNode, on nir.Inspect); the command resolves the node, finds its artifact in
// the store and renders the report as text or --json.
package inspect
