package cli

import (
	"github.com/spf13/cobra"
)

func init() {
	AddCommand(func(f *Factory) *cobra.Command { return newStagesCmd(f) })
}

// newStagesCmd prints the argument reference of every linked stage, generated from the
// schemas that validation uses (the README embeds this output).
func newStagesCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "stages",
		Short: "Print every stage block's arguments, types and defaults (Markdown)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.Stages.WriteReference(f.IOStreams.Out)
		},
	}
}
