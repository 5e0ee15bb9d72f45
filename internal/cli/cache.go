package cli

import "github.com/spf13/cobra"

func newCacheCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache <command>",
		Short: "Inspect, verify and clean the store",
		Long: `The store (--store, default results/) holds one read-only directory per content key
with a manifest of every file's size and SHA-256. It is safe on one machine's local disk,
not on network file systems.`,
	}
	cmd.AddCommand(newCacheLsCmd(f, nil), newCacheVerifyCmd(f, nil), newCacheGCCmd(f, nil))
	return cmd
}
