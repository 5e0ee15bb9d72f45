// Package plan is `dmlrun plan`: build an experiment's graph, key every node and show, per
// node, whether apply would find it cached, create, re-run or resume it, and why.
//
// What it is not: the plan itself (pipeline.MakePlan decides actions and reasons) and its
// rendering (cmdutil.RenderPlan, shared with apply); it wires them and chooses the exit
// status (ChangesPresentError for --detailed-exitcode and for nodes without a key).
package plan
