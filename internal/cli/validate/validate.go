package validate

import (
	"context"
	"fmt"

	"dmlrun/internal/cli/cmdutil"
	"dmlrun/internal/iostreams"
	"dmlrun/pipeline"
	"dmlrun/spec"

	"github.com/spf13/cobra"
)

// Options are the inputs of dmlrun validate.
type Options struct {
	IO      *iostreams.IOStreams
	Factory *cmdutil.Factory
	// Context ends decoding early when done (Main cancels it on SIGINT and SIGTERM);
	// nil means context.Background().
	Context context.Context

	File string
	Vars []string
	JSON bool
}

// NewCmd returns the validate command; runF, when not nil, replaces the work (tests of
// flag parsing).
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "validate FILE",
		Short: "Check an experiment file and report every problem with its location",
		Long: `Validate decodes an experiment file (.hcl, .yaml or .yml), checks it against the
registered stages' schemas, expands seeds and matrices, resolves references and checks the
graph for cycles. Every problem is reported with file:line:col. It never opens the store,
never loads libtorch and never reads dataset folders (plan does, for the keys).`,
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
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the diagnostics as JSON on stdout")
	return cmd
}

func run(opts *Options) error {
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	if !opts.JSON {
		exp, err := cmdutil.LoadExperiment(ctx, opts.Factory, opts.File, cmdutil.LoadOptions{Vars: opts.Vars, StructureOnly: true})
		if err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.Out, "%s: valid, %d node(s)\n", opts.File, len(exp.Graph.Nodes))
		return nil
	}
	vm, err := cmdutil.ParseVars(opts.Vars)
	if err != nil {
		return err
	}
	exp, diags := spec.LoadContext(ctx, opts.File, spec.LoadOptions{Registry: opts.Factory.Stages, Vars: vm, LookupEnv: opts.Factory.LookupEnv})
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", opts.File, err) // shown as "Interrupted: ...", exit 1
	}
	if !diags.HasErrors() {
		_, buildDiags, err := cmdutil.BuildGraph(ctx, opts.Factory, exp, pipeline.BuildOptions{SkipKeyInputs: true})
		if len(buildDiags) == 0 && err != nil {
			return fmt.Errorf("%s: %w", opts.File, err)
		}
		diags = append(diags, buildDiags...)
	}
	b, err := spec.DiagnosticsJSON(diags)
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.Out, "%s\n", b)
	if diags.HasErrors() {
		return cmdutil.SilentError
	}
	return nil
}
