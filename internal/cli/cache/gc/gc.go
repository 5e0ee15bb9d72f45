package gc

import (
	"context"
	"errors"
	"fmt"

	"dmlrun/internal/cli/cmdutil"
	"dmlrun/internal/iostreams"
	"dmlrun/store"

	"github.com/spf13/cobra"
)

// Options are the inputs of dmlrun cache gc.
type Options struct {
	IO      *iostreams.IOStreams
	Factory *cmdutil.Factory
	// Context ends decoding early when done; nil means context.Background().
	Context context.Context
	Files   []string
	Vars    []string
	DryRun  bool
}

// NewCmd returns the cache gc command; runF, when not nil, replaces the work.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "gc FILE...",
		Short: "Remove artifacts that none of the given experiment files use",
		Long: `GC computes the keys of every node of the given experiment files and removes every
artifact whose key is not among them, plus leftovers of interrupted runs that belong to no
such key (temporary directories, artifacts half deleted by a crash, temporary index files
of a killed apply). Artifacts locked by a running apply are skipped. Name every experiment
whose results you want to keep.

Nothing inside the store is followed if it is a symbolic link: a link in tmp/ is removed
itself, and entries gc does not remove (links and names the store does not make elsewhere,
anything in use) are listed with the reason.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmdutil.FlagErrorf("cache gc needs at least one experiment file: artifacts the given files do not use are removed")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			opts.Context = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return run(opts)
		},
	}
	cmd.Flags().StringArrayVar(&opts.Vars, "var", nil, "set an experiment variable for every file (`name=value`; repeatable)")
	cmd.Flags().BoolVarP(&opts.DryRun, "dry-run", "n", false, "only list what would be removed")
	return cmd
}

func run(opts *Options) error {
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	live := map[string]bool{}
	for _, file := range opts.Files {
		exp, err := cmdutil.LoadExperiment(ctx, opts.Factory, file, cmdutil.LoadOptions{Vars: opts.Vars})
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
	keys, skipped, err := st.Scan()
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
				skipped = append(skipped, store.Skipped{Path: k[:2] + "/" + k, Reason: "is in use: " + le.Error()})
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
		fmt.Fprintf(opts.IO.Out, "%s  %s (%s)\n", verb, desc, cmdutil.HumanBytes(size))
	}
	temps, err := st.Temps()
	if err != nil {
		errs = append(errs, err)
	}
	for _, te := range temps {
		what := "tmp/" + te.Name
		note := ""
		switch {
		case te.Link:
			// Never the store's own; removing the link leaves its target alone.
			note = " (a symbolic link; what it points at was not touched)"
		case te.Foreign:
			skipped = append(skipped, store.Skipped{Path: what, Reason: "is not a name the store makes (left alone)"})
			continue
		case te.Key != "" && live[te.Key] && (te.Partial || te.FailedLog):
			if _, err := st.Get(te.Key); store.IsMiss(err) {
				continue // kept for the next apply to resume or explain
			}
		}
		if opts.DryRun {
			fmt.Fprintf(opts.IO.Out, "%s  %s%s\n", verb, what, note)
			continue
		}
		if te.Key != "" {
			unlock, err := st.TryLock(te.Key)
			var le *store.LockedError
			if errors.As(err, &le) {
				skipped = append(skipped, store.Skipped{Path: what, Reason: "belongs to a running apply (" + le.Error() + ")"})
				continue
			} else if err != nil {
				errs = append(errs, err)
				continue
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
		fmt.Fprintf(opts.IO.Out, "%s  %s%s\n", verb, what, note)
	}
	strays, busy, err := st.RemoveStrayTemps(opts.DryRun)
	if err != nil {
		errs = append(errs, err)
	}
	for _, p := range strays {
		fmt.Fprintf(opts.IO.Out, "%s  %s\n", verb, p)
	}
	skipped = append(skipped, busy...)
	if len(skipped) > 0 {
		fmt.Fprintf(opts.IO.Out, "skipped %s: %s\n", cmdutil.CountEntries(len(skipped)), store.JoinSkipped(skipped))
	}
	fmt.Fprintf(opts.IO.Out, "%s %d artifact(s), %s; kept %d\n", verb, removed, cmdutil.HumanBytes(freed), kept)
	return errors.Join(errs...)
}
