package cli

import (
	"errors"
	"fmt"
	"strings"

	"dmlrun/internal/iostreams"
	"dmlrun/store"

	"github.com/spf13/cobra"
)

// CacheGCOptions are the inputs of dmlrun cache gc.
type CacheGCOptions struct {
	IO      *iostreams.IOStreams
	Factory *Factory
	Files   []string
	Vars    []string
	DryRun  bool
}

func newCacheGCCmd(f *Factory, runF func(*CacheGCOptions) error) *cobra.Command {
	opts := &CacheGCOptions{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "gc FILE...",
		Short: "Remove artifacts that none of the given experiment files use",
		Long: `GC computes the keys of every node of the given experiment files and removes every
artifact whose key is not among them, plus leftovers of interrupted runs that belong to no
such key. Artifacts locked by a running apply are skipped. Name every experiment whose
results you want to keep.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return flagErrorf("cache gc needs at least one experiment file: artifacts the given files do not use are removed")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			if runF != nil {
				return runF(opts)
			}
			return runCacheGC(opts)
		},
	}
	cmd.Flags().StringArrayVar(&opts.Vars, "var", nil, "set an experiment variable for every file (`name=value`; repeatable)")
	cmd.Flags().BoolVarP(&opts.DryRun, "dry-run", "n", false, "only list what would be removed")
	return cmd
}

func runCacheGC(opts *CacheGCOptions) error {
	live := map[string]bool{}
	for _, file := range opts.Files {
		exp, err := loadExperiment(opts.Factory, file, opts.Vars, false)
		if err != nil {
			return err
		}
		// A node without a key (its dataset folder cannot be read) would leave its
		// artifacts unprotected: refuse rather than remove results that may still be used.
		if err := exp.Graph.KeyErrors(nil); err != nil {
			return fmt.Errorf("%s: cannot compute every key, so gc cannot tell which artifacts it uses; nothing was removed:\n%w", file, err)
		}
		for _, n := range exp.Graph.Nodes {
			live[n.Key] = true
		}
	}
	st, err := opts.Factory.Store()
	if err != nil {
		return err
	}
	keys, err := st.Keys()
	if err != nil {
		return err
	}
	verb := "removed"
	if opts.DryRun {
		verb = "would remove"
	}
	var removed, kept int
	var freed int64
	var errs []error
	for _, k := range keys {
		if live[k] {
			kept++
			continue
		}
		desc := k[:12]
		if m, err := st.Manifest(k); err == nil {
			desc += " " + m.Addr
		}
		size := st.Size(k)
		if !opts.DryRun {
			unlock, err := st.TryLock(k)
			var le *store.LockedError
			if errors.As(err, &le) {
				fmt.Fprintf(opts.IO.Out, "skipped  %s: %v\n", desc, err)
				continue
			} else if err != nil {
				errs = append(errs, err)
				continue
			}
			err = st.Remove(k)
			unlock()
			if err != nil {
				errs = append(errs, err)
				continue
			}
		}
		removed++
		freed += size
		fmt.Fprintf(opts.IO.Out, "%s  %s (%s)\n", verb, desc, humanBytes(size))
	}
	temps, err := st.Temps()
	if err != nil {
		errs = append(errs, err)
	}
	for _, te := range temps {
		if te.Key != "" && live[te.Key] && (te.Partial || strings.HasSuffix(te.Name, ".failed.log")) {
			if _, err := st.Get(te.Key); store.IsMiss(err) {
				continue // kept for the next apply to resume or explain
			}
		}
		if opts.DryRun {
			fmt.Fprintf(opts.IO.Out, "%s  tmp/%s\n", verb, te.Name)
			continue
		}
		if te.Key != "" {
			unlock, err := st.TryLock(te.Key)
			if err != nil {
				continue // a running apply owns it
			}
			err = st.RemoveTemp(te.Name)
			unlock()
			if err != nil {
				errs = append(errs, err)
				continue
			}
		} else if err := st.RemoveTemp(te.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(opts.IO.Out, "%s  tmp/%s\n", verb, te.Name)
	}
	fmt.Fprintf(opts.IO.Out, "%s %d artifact(s), %s; kept %d\n", verb, removed, humanBytes(freed), kept)
	return errors.Join(errs...)
}
