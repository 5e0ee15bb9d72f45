package pipeline

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"dmlrun/store"
)

// Action is what apply will do with a node.
type Action string

const (
	Cached Action = "cached" // the key's artifact is in the store and verified
	Create Action = "create" // never computed for this node address (as far as the index knows)
	Rerun  Action = "re-run" // computed before under another key, or its artifact is gone or corrupted
	Resume Action = "resume" // a resumable stage's interrupted output is waiting in the store
)

// Plan says, per node, what apply would do and why. It is plain data (JSON-serialisable).
// Reasons are for people; apply decides from keys alone.
type Plan struct {
	Experiment string     `json:"experiment"`
	Targets    []string   `json:"targets,omitempty"`
	Nodes      []PlanNode `json:"nodes"`
}

// PlanNode is one node of a plan.
type PlanNode struct {
	Addr   string   `json:"addr"`
	Stage  string   `json:"stage"`
	Key    string   `json:"key"`
	Action Action   `json:"action"`
	Reason string   `json:"reason,omitempty"`
	Inputs []string `json:"inputs,omitempty"` // addresses of the node's inputs
	// KeyInputs is the digest of the external content the key covers (Def.KeyInputs).
	KeyInputs string `json:"key_inputs,omitempty"`
	// KeyUnknown: the key could not be computed (Key is ""); Reason says why. Apply
	// refuses a plan with such a node.
	KeyUnknown bool `json:"key_unknown,omitempty"`
	// FailedLog is the log of the key's last failed run (store.FailedLogPath), when the
	// node is not cached and one is kept.
	FailedLog string `json:"failed_log,omitempty"`
	// Job is a job an executor has queued or running for the node (the command layer fills
	// it from the executor's records; MakePlan leaves it nil).
	Job *PlanJob `json:"job,omitempty"`
}

// PlanJob is an executor's job for a plan node.
type PlanJob struct {
	Executor string `json:"executor"`        // "slurm"
	Run      string `json:"run"`             // the run it belongs to (the Slurm job name)
	ID       string `json:"id"`              // "123" or "123_4"
	State    string `json:"state,omitempty"` // the executor's word (PENDING, RUNNING, ...); "" when unknown
	Host     string `json:"host,omitempty"`
}

// Changes counts the nodes that are not cached.
func (p *Plan) Changes() int {
	n := 0
	for _, pn := range p.Nodes {
		if pn.Action != Cached {
			n++
		}
	}
	return n
}

// Unkeyed counts the nodes whose key could not be computed.
func (p *Plan) Unkeyed() int {
	n := 0
	for _, pn := range p.Nodes {
		if pn.KeyUnknown {
			n++
		}
	}
	return n
}

// Counts returns the number of nodes per action.
func (p *Plan) Counts() map[Action]int {
	c := map[Action]int{}
	for _, pn := range p.Nodes {
		c[pn.Action]++
	}
	return c
}

// MakePlan decides an action for each selected node (targets as in Graph.Select). It reads
// the store (verifying every cached artifact, so a corrupted one shows up here as a re-run)
// and the experiment's index (to explain re-runs). experiment identifies the experiment in
// the index (its absolute path); display is how the plan names it.
func MakePlan(g *Graph, st *store.Store, experiment, display string, targets []string) (*Plan, error) {
	nodes, err := g.Select(targets)
	if err != nil {
		return nil, err
	}
	idx := st.ReadIndex(experiment)
	p := &Plan{Experiment: display, Targets: targets, Nodes: []PlanNode{}}
	for _, n := range nodes {
		pn := PlanNode{Addr: n.Addr, Stage: n.Kind, Key: n.Key, KeyInputs: n.KeyInputs}
		for _, e := range n.Inputs {
			pn.Inputs = append(pn.Inputs, e.From.Addr)
		}
		if n.KeyErr != nil {
			pn.KeyUnknown = true
			pn.Action, pn.Reason = Create, unkeyedReason(n.KeyErr)
		} else {
			pn.Action, pn.Reason = decide(n, st, idx)
			if pn.Action != Cached {
				if fi, err := os.Lstat(st.FailedLogPath(n.Key)); err == nil && fi.Mode().IsRegular() {
					pn.FailedLog = st.FailedLogPath(n.Key)
				}
			}
		}
		p.Nodes = append(p.Nodes, pn)
	}
	return p, nil
}

// unkeyedReason is the plan reason of a node without a key: the hook's error for the node
// whose hook failed, a pointer to that node for the ones downstream.
func unkeyedReason(err error) string {
	var ke *KeyError
	if !errors.As(err, &ke) {
		return err.Error()
	}
	if ke.Input != "" {
		return "key unknown until input " + ke.Input + " can be keyed"
	}
	return ke.Err.Error()
}

func decide(n *Node, st *store.Store, idx *store.Index) (Action, string) {
	_, err := st.Get(n.Key)
	if err == nil {
		return Cached, ""
	}
	var miss *store.MissError
	if !errors.As(err, &miss) {
		return Rerun, err.Error()
	}
	if n.Def.Resumable && st.HasPartial(n.Key) {
		return Resume, "an interrupted run left its output (tmp/" + n.Key[:12] + "….partial)"
	}
	if !miss.Absent {
		return Rerun, miss.Reason
	}
	prev, ok := idx.Nodes[n.Addr]
	switch {
	case !ok:
		return Create, "not in store"
	case prev.Key == n.Key:
		return Rerun, "artifact missing from the store (removed by cache gc or by hand)"
	}
	return Rerun, explain(prev, n)
}

// explain lists what differs between the index's record of a node and the node now.
func explain(prev store.IndexEntry, n *Node) string {
	var why []string
	if prev.Stage != n.Kind {
		why = append(why, fmt.Sprintf("stage %s -> %s", prev.Stage, n.Kind))
	} else if prev.StageVersion != n.Def.Version {
		why = append(why, fmt.Sprintf("stage version %d -> %d", prev.StageVersion, n.Def.Version))
	}
	name := n.Def.KeyInputsName
	if name == "" {
		name = "external content"
	}
	switch {
	case prev.KeyInputs == n.KeyInputs:
	case prev.KeyInputs == "":
		why = append(why, name+" is now part of the key")
	case n.KeyInputs == "":
		why = append(why, name+" is no longer part of the key")
	default:
		why = append(why, name+" changed")
	}
	cur := FlatParams(n.Params)
	paths := map[string]bool{}
	for p := range cur {
		paths[p] = true
	}
	for p := range prev.Params {
		paths[p] = true
	}
	sorted := make([]string, 0, len(paths))
	for p := range paths {
		sorted = append(sorted, p)
	}
	sort.Strings(sorted)
	for _, p := range sorted {
		old, hadOld := prev.Params[p]
		now, hasNow := cur[p]
		switch {
		case hadOld && hasNow && old != now:
			why = append(why, fmt.Sprintf("param %s changed %s -> %s", p, old, now))
		case !hadOld && hasNow:
			why = append(why, fmt.Sprintf("param %s added (%s)", p, now))
		case hadOld && !hasNow:
			why = append(why, fmt.Sprintf("param %s removed (was %s)", p, old))
		}
	}
	if len(prev.Inputs) != len(n.Inputs) {
		why = append(why, fmt.Sprintf("inputs changed (%d -> %d)", len(prev.Inputs), len(n.Inputs)))
	} else {
		for i, e := range n.Inputs {
			old := prev.Inputs[i]
			switch {
			case old.Addr != e.From.Addr || old.Param != e.Param:
				why = append(why, fmt.Sprintf("input %s %s replaced by %s", e.Param, old.Addr, e.From.Addr))
			case old.Key != e.From.Key:
				why = append(why, fmt.Sprintf("input %s changed", e.From.Addr))
			}
		}
	}
	if len(why) == 0 {
		return "key changed (previous key " + prev.Key[:12] + "…)"
	}
	return strings.Join(why, "; ")
}
