package stages

import (
	"dmlrun/internal/cli/cmdutil"
	"dmlrun/internal/iostreams"
	"dmlrun/stage"

	"github.com/spf13/cobra"
)

// Options are the inputs of dmlrun stages.
type Options struct {
	IO     *iostreams.IOStreams
	Stages *stage.Registry
}

// NewCmd returns the stages command; runF, when not nil, replaces the work.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	return &cobra.Command{
		Use:   "stages",
		Short: "Print every stage block's arguments, types and defaults (Markdown)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Stages = f.Stages
			if runF != nil {
				return runF(opts)
			}
			return run(opts)
		},
	}
}

func run(opts *Options) error {
	return opts.Stages.WriteReference(opts.IO.Out)
}
