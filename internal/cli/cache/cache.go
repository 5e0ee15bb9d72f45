package cache

import (
	"dmlrun/internal/cli/cache/gc"
	"dmlrun/internal/cli/cache/ls"
	"dmlrun/internal/cli/cache/verify"
	"dmlrun/internal/cli/cmdutil"

	"github.com/spf13/cobra"
)

// NewCmd returns `dmlrun cache` with its subcommands ls, verify and gc.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache <command>",
		Short: "Inspect, verify and clean the store",
		Long: `The store (--store, default results/) holds one read-only directory per content key
with a manifest of every file's size and SHA-256. It is safe on one machine's local disk,
not on network file systems.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return cmdutil.FlagErrorf("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
	cmd.AddCommand(ls.NewCmd(f, nil), verify.NewCmd(f, nil), gc.NewCmd(f, nil))
	return cmd
}
