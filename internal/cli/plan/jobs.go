package plan

import (
	"context"
	"fmt"
	"io"

	"dmlrun/pipeline"
	"dmlrun/pipeline/slurm"
	"dmlrun/store"
)

// annotate adds to the plan what the store knows beyond the keys: the Slurm jobs live runs
// of this experiment have queued or running for its nodes (one squeue call, made only
// when such runs are recorded), and the log of a node's last failed run. Both go into the
// node's reason for people and into Job and FailedLog for --json. Slurm not answering (plan
// run where there is no Slurm) is a warning: the plan is still right.
func annotate(ctx context.Context, errOut io.Writer, st *store.Store, experiment string, p *pipeline.Plan) {
	jobs, problems, err := slurm.Jobs(ctx, st, &slurm.Commands{}, experiment)
	for _, pr := range problems {
		fmt.Fprintf(errOut, "Warning: Slurm run record: %s\n", pr)
	}
	if err != nil {
		fmt.Fprintf(errOut, "Warning: cannot ask Slurm about this experiment's jobs (%v); their state is not shown.\n", err)
	}
	for i := range p.Nodes {
		pn := &p.Nodes[i]
		if pn.Action == pipeline.Cached {
			continue
		}
		if j, ok := jobs[pn.Key]; ok {
			pn.Job = &pipeline.PlanJob{Executor: "slurm", Run: j.Run, ID: string(j.ID), State: j.State, Host: j.Host}
			pn.Reason = join(pn.Reason, j.String())
		}
		if pn.FailedLog != "" {
			pn.Reason = join(pn.Reason, "last run failed, log: "+pn.FailedLog)
		}
	}
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
