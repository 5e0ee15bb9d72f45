package cli

import (
	"fmt"

	"dmlrun/internal/iostreams"
	"dmlrun/store"

	"github.com/spf13/cobra"
)

// CacheVerifyOptions are the inputs of dmlrun cache verify.
type CacheVerifyOptions struct {
	IO      *iostreams.IOStreams
	Factory *Factory
	Keys    []string
}

func newCacheVerifyCmd(f *Factory, runF func(*CacheVerifyOptions) error) *cobra.Command {
	opts := &CacheVerifyOptions{IO: f.IOStreams, Factory: f}
	return &cobra.Command{
		Use:   "verify [KEY...]",
		Short: "Re-hash artifacts and report any that are damaged",
		Long: `Verify re-reads every file of every artifact (or of the given keys) and compares
sizes and SHA-256 digests with the manifest; unlisted files count as damage too. A damaged
artifact is never used: the next apply computes it again. Exit status 1 when any is damaged.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Keys = args
			for _, k := range args {
				if !store.ValidKey(k) {
					return flagErrorf("%q is not a content key (64 hex digits)", k)
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return runCacheVerify(opts)
		},
	}
}

func runCacheVerify(opts *CacheVerifyOptions) error {
	st, err := opts.Factory.Store()
	if err != nil {
		return err
	}
	keys := opts.Keys
	if len(keys) == 0 {
		if keys, err = st.Keys(); err != nil {
			return err
		}
	}
	bad := 0
	for _, k := range keys {
		problems := st.Verify(k)
		addr := ""
		if m, err := st.Manifest(k); err == nil {
			addr = " " + m.Addr
		}
		if len(problems) == 0 {
			fmt.Fprintf(opts.IO.Out, "ok       %s%s\n", k[:12], addr)
			continue
		}
		bad++
		for _, p := range problems {
			fmt.Fprintf(opts.IO.Out, "DAMAGED  %s%s: %s\n", k[:12], addr, p)
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d artifact(s) damaged; the next apply recomputes them", bad, len(keys))
	}
	fmt.Fprintf(opts.IO.Out, "%d artifact(s) verified\n", len(keys))
	return nil
}
