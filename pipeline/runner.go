package pipeline

import (
	"context"
	"fmt"
	"sort"

	"dmlrun/dag"
)

// Runner applies a plan: the executor interface. Executor runs the nodes in this process
// (the local executor); package pipeline/slurm submits each node as a Slurm job that runs
// `dmlrun run-node`, which runs the node's frozen Job with Executor.RunJob. Every Runner
// decides success from the store alone (a node is done when its key's artifact is
// committed), takes the plan as given (PlanNodes checks it against the graph) and returns
// one NodeResult per plan node, in plan order.
//
// Cluster settings (partition, time limits, GPUs) are the Runner's own and never part of the
// experiment or of a key: one experiment file runs unchanged on any Runner, with the same
// keys and results.
type Runner interface {
	Apply(ctx context.Context, g *Graph, p *Plan) (*Result, error)
}

var _ Runner = (*Executor)(nil)

// PlanNodes returns the graph's nodes for the plan's, in topological order, after the
// checks every Runner makes before running anything: a node whose key is unknown
// (Node.KeyErr) is an error listing every such cause; a plan node that is no longer in the
// graph, whose key differs from the graph's, that is listed twice or whose input is not in
// the plan is a *StalePlanError.
func (g *Graph) PlanNodes(p *Plan) ([]*Node, error) {
	nodes := make([]*Node, 0, len(p.Nodes))
	inPlan := map[*Node]bool{}
	for _, pn := range p.Nodes {
		if n := g.Node(pn.Addr); n != nil {
			nodes = append(nodes, n)
		}
	}
	if err := g.KeyErrors(nodes); err != nil {
		return nil, fmt.Errorf("cannot apply: some keys cannot be computed, nothing was run:\n%w", err)
	}
	nodes = nodes[:0]
	for _, pn := range p.Nodes {
		n := g.Node(pn.Addr)
		switch {
		case n == nil:
			return nil, &StalePlanError{pn.Addr, "no longer in the experiment"}
		case n.Key != pn.Key:
			return nil, &StalePlanError{pn.Addr, fmt.Sprintf("key %s… is now %s…", pn.Key[:min(12, len(pn.Key))], n.Key[:12])}
		case inPlan[n]:
			return nil, &StalePlanError{pn.Addr, "listed twice in the plan"}
		}
		nodes = append(nodes, n)
		inPlan[n] = true
	}
	for _, n := range nodes {
		for _, in := range n.Inputs {
			if !inPlan[in.From] {
				return nil, &StalePlanError{n.Addr, "input " + in.From.Addr + " is not in the plan"}
			}
		}
	}
	sort.SliceStable(nodes, func(i, j int) bool { return nodes[i].order < nodes[j].order })
	return nodes, nil
}

// NewTracker follows which of nodes (a set of g's nodes in priority order, as PlanNodes
// returns them) may start: see dag.Tracker.
func (g *Graph) NewTracker(nodes []*Node) *dag.Tracker[*Node] { return g.dag.Tracker(nodes) }
