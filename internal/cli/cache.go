package cli

import "github.com/spf13/cobra"

func newCacheCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache <command>",
		Short: "Inspect, verify and clean the store",
		Long: `The store (--store, default results/) holds one read-only directory per content key
with a manifest of every file's size and SHA-256. It is safe on one machine's local disk,
not on network file systems.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return flagErrorf("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
	cmd.AddCommand(newCacheLsCmd(f, nil), newCacheVerifyCmd(f, nil), newCacheGCCmd(f, nil))
	return cmd
}
