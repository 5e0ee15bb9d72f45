package plan

import (
	"context"
	"fmt"

	"dmlrun/internal/cli/cmdutil"
	"dmlrun/internal/iostreams"
	"dmlrun/pipeline"

	"github.com/spf13/cobra"
)

// Options are the inputs of dmlrun plan.
type Options struct {
	IO      *iostreams.IOStreams
	Factory *cmdutil.Factory
	// Context ends decoding early when done; nil means context.Background().
	Context context.Context

	File             string
	Vars             []string
	Targets          []string
	JSON             bool
	DetailedExitcode bool
}

// NewCmd returns the plan command; runF, when not nil, replaces the work.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
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

Nodes that a Slurm run of this experiment (apply --executor slurm, attached or --detach)
has submitted show their job: "Slurm job 123_4 running on node17 (run dmlrun-x-3fa2c1)",
or queued, with the reason Slurm gives; nodes whose last run failed name the kept log.
This asks squeue once, and only when such runs are recorded in the store.

With --detailed-exitcode the exit status is 0 when nothing would run, 2 when something
would, and 1 on error. A plan with a node whose key cannot be computed exits 2 with or
without the flag.`,
		Args: cmdutil.ExactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			opts.Context = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return run(opts)
		},
	}
	cmd.Flags().StringArrayVar(&opts.Vars, "var", nil, "set an experiment variable (`name=value`; repeatable)")
	cmd.Flags().StringArrayVar(&opts.Targets, "target", nil, "plan only this node or block and what it needs (`addr`; repeatable)")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the plan as JSON on stdout")
	cmd.Flags().BoolVar(&opts.DetailedExitcode, "detailed-exitcode", false, "exit 2 when the plan has changes")
	return cmd
}

func run(opts *Options) error {
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	exp, err := cmdutil.LoadExperiment(ctx, opts.Factory, opts.File, cmdutil.LoadOptions{Vars: opts.Vars})
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
	annotate(ctx, opts.IO.ErrOut, st, exp.ID, p)
	if opts.JSON {
		if err := cmdutil.WriteJSON(opts.IO.Out, p); err != nil {
			return err
		}
	} else {
		cmdutil.RenderPlan(opts.IO.Out, p, true)
	}
	if n := p.Unkeyed(); n > 0 {
		fmt.Fprintf(opts.IO.ErrOut, "%d node(s) have no key because their external content cannot be read; apply will fail until that is fixed.\n", n)
		return &cmdutil.ChangesPresentError{Changes: p.Changes()}
	}
	if opts.DetailedExitcode && p.Changes() > 0 {
		return &cmdutil.ChangesPresentError{Changes: p.Changes()}
	}
	return nil
}
