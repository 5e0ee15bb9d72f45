package stages

import (
	"fmt"
	"slices"
	"strings"

	"dmlrun/internal/cli/cmdutil"
	"dmlrun/internal/iostreams"
	"dmlrun/stage"

	"github.com/spf13/cobra"
)

// Options are the inputs of dmlrun stages.
type Options struct {
	IO     *iostreams.IOStreams
	Stages *stage.Registry
	Names  []string // the stages to print, in this order; none: every stage
}

// NewCmd returns the stages command; runF, when not nil, replaces the work.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	return &cobra.Command{
		Use:   "stages [STAGE...]",
		Short: "Print stage blocks' arguments, types and defaults (Markdown)",
		Long: `Stages prints the reference of every stage block (the README's "Stages and their
arguments" is this output), or of the named ones: "dmlrun stages train" prints the train
block's arguments, its losses, batchminers and their arguments.`,
		Args: func(cmd *cobra.Command, args []string) error {
			return checkNames(f.Stages, args)
		},
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			var out []string
			for _, k := range f.Stages.Kinds() {
				if !slices.Contains(args, k) {
					out = append(out, k)
				}
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Stages, opts.Names = f.Stages, args
			if runF != nil {
				return runF(opts)
			}
			return run(opts)
		},
	}
}

// checkNames accepts stage names the registry has; an unknown one is a FlagError that lists
// the known ones.
func checkNames(r *stage.Registry, names []string) error {
	for _, n := range names {
		if _, ok := r.Lookup(n); !ok {
			return cmdutil.FlagErrorf("unknown stage %q; the stages are %s", n, strings.Join(r.Kinds(), ", "))
		}
	}
	return nil
}

func run(opts *Options) error {
	if len(opts.Names) == 0 {
		return opts.Stages.WriteReference(opts.IO.Out)
	}
	if err := checkNames(opts.Stages, opts.Names); err != nil {
		return err
	}
	for _, n := range opts.Names {
		d, _ := opts.Stages.Lookup(n)
		// A registry of the one stage renders exactly its section of the full reference.
		one, err := stage.NewRegistry(d)
		if err != nil {
			return fmt.Errorf("stage %s: %w", n, err)
		}
		if err := one.WriteReference(opts.IO.Out); err != nil {
			return err
		}
	}
	return nil
}
