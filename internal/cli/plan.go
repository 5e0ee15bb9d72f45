package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"dmlrun/internal/iostreams"
	"dmlrun/pipeline"

	"github.com/spf13/cobra"
)

// PlanOptions are the inputs of dmlrun plan.
type PlanOptions struct {
	IO      *iostreams.IOStreams
	Factory *Factory
	// Context ends decoding early when done; nil means context.Background().
	Context context.Context

	File             string
	Vars             []string
	Targets          []string
	JSON             bool
	DetailedExitcode bool
}

func newPlanCmd(f *Factory, runF func(*PlanOptions) error) *cobra.Command {
	opts := &PlanOptions{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "plan FILE",
		Short: "Show what apply would run, what is cached, and why",
		Long: `Plan builds the experiment's graph, computes every node's content key and looks each
key up in the store (verifying cached artifacts). Each node is shown as cached, create,
re-run or resume with the reason: which parameter, input or stage version changed since the
node last ran, or that its artifact is missing or corrupted.

A dataset node's key covers the content of its folder (relative paths, sizes and file
contents; unchanged files are recognised by path, size and mtime and not re-read), so
changing images in place re-runs it ("dataset content changed"). A node whose key cannot be
computed (its dataset folder is missing or malformed on this machine) is shown as create
with the error as its reason, and so are the nodes that depend on it; apply refuses to run
until that is fixed.

With --detailed-exitcode the exit status is 0 when nothing would run, 2 when something
would, and 1 on error. A plan with a node whose key cannot be computed exits 2 with or
without the flag.`,
		Args: exactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			opts.Context = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return runPlan(opts)
		},
	}
	cmd.Flags().StringArrayVar(&opts.Vars, "var", nil, "set an experiment variable (`name=value`; repeatable)")
	cmd.Flags().StringArrayVar(&opts.Targets, "target", nil, "plan only this node or block and what it needs (`addr`; repeatable)")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the plan as JSON on stdout")
	cmd.Flags().BoolVar(&opts.DetailedExitcode, "detailed-exitcode", false, "exit 2 when the plan has changes")
	return cmd
}

func runPlan(opts *PlanOptions) error {
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	exp, err := loadExperimentContext(ctx, opts.Factory, opts.File, opts.Vars, false)
	if err != nil {
		return err
	}
	st, err := opts.Factory.Store()
	if err != nil {
		return err
	}
	p, err := pipeline.MakePlan(exp.Graph, st, exp.ID, exp.Path, opts.Targets)
	if err != nil {
		return err
	}
	if opts.JSON {
		if err := writeJSON(opts.IO.Out, p); err != nil {
			return err
		}
	} else {
		renderPlan(opts.IO.Out, p, true)
	}
	if n := p.Unkeyed(); n > 0 {
		fmt.Fprintf(opts.IO.ErrOut, "%d node(s) have no key because their external content cannot be read; apply will fail until that is fixed.\n", n)
		return &ChangesPresentError{Changes: p.Changes()}
	}
	if opts.DetailedExitcode && p.Changes() > 0 {
		return &ChangesPresentError{Changes: p.Changes()}
	}
	return nil
}

var actionSigns = map[pipeline.Action]string{
	pipeline.Cached: "=", pipeline.Create: "+", pipeline.Rerun: "~", pipeline.Resume: ">",
}

// renderPlan writes one line per node ("+ create  train.nir[seed=0]  3fa2c1d0e9ab  not in
// store") and a summary line. Cached nodes are listed only with all=true.
func renderPlan(w io.Writer, p *pipeline.Plan, all bool) {
	width := 0
	for _, n := range p.Nodes {
		width = max(width, len(n.Addr))
	}
	for _, n := range p.Nodes {
		if n.Action == pipeline.Cached && !all {
			continue
		}
		key := "(no key)    "
		if len(n.Key) >= 12 {
			key = n.Key[:12]
		}
		line := fmt.Sprintf("%s %-7s %-*s  %s", actionSigns[n.Action], n.Action, width, n.Addr, key)
		if n.Reason != "" {
			line += "  " + n.Reason
		}
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
	c := p.Counts()
	fmt.Fprintf(w, "Plan: %d to create, %d to re-run, %d to resume, %d cached.\n",
		c[pipeline.Create], c[pipeline.Rerun], c[pipeline.Resume], c[pipeline.Cached])
}
