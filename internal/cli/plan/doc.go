// Package plan is `dmlrun plan`: build an experiment's graph, key every node and show, per
// node, whether apply would find it cached, create, re-run or resume it, and why. It adds
// what the store knows beyond keys (jobs.go): the Slurm job a live run of the experiment
// has queued or running for a node (slurm.Jobs: one squeue call, only when such runs are
// recorded) and the log of a node's last failed run.
//
// What it is not: the plan itself (pipeline.MakePlan decides actions and reasons) and its
// rendering (cmdutil.RenderPlan, shared with apply); it wires them and chooses the exit
// status (ChangesPresentError for --detailed-exitcode and for nodes without a key).
package plan
