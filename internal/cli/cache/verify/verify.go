package verify

import (
	"fmt"
	"slices"

	"dmlrun/internal/cli/cmdutil"
	"dmlrun/internal/iostreams"
	"dmlrun/store"

	"github.com/spf13/cobra"
)

// Options are the inputs of dmlrun cache verify.
type Options struct {
	IO      *iostreams.IOStreams
	Factory *cmdutil.Factory
	Keys    []string
}

// NewCmd returns the cache verify command; runF, when not nil, replaces the work.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	return &cobra.Command{
		Use:   "verify [KEY...]",
		Short: "Re-hash artifacts and report any that are damaged",
		Long: `Verify re-reads every file of every artifact (or of the given keys) and compares
sizes and SHA-256 digests with the manifest; unlisted files count as damage too. It also
recomputes each key from the manifest's recorded stage, version, parameters, input keys and
key inputs: a manifest edited after the fact is damage. A damaged artifact is never used:
the next apply computes it again.

Nothing inside the store is followed if it is a symbolic link. Entries verify passes over
are listed with the reason (a linked or stray entry, a name the store does not make, an
artifact made by a stage version this dmlrun does not have, whose key cannot be
recomputed). Exit status 1 when any artifact is damaged or any entry could not be checked.

A KEY is a full content key or any prefix of at least 8 hex digits that names one artifact
(the 12 digits plan, apply and show print will do); an ambiguous prefix is an error that
lists the artifacts it matches.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Keys = args
			for _, k := range args {
				if err := cmdutil.CheckKeyArg(k); err != nil {
					return err
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return run(opts)
		},
	}
}

func run(opts *Options) error {
	st, err := opts.Factory.Store()
	if err != nil {
		return err
	}
	var keys []string
	for _, arg := range opts.Keys {
		k, err := cmdutil.ResolveKey(st, arg)
		if err != nil {
			return err
		}
		if !slices.Contains(keys, k) { // two prefixes of one key check it once
			keys = append(keys, k)
		}
	}
	var skipped []store.Skipped
	if len(keys) == 0 {
		if keys, skipped, err = st.Scan(); err != nil {
			return err
		}
	}
	bad, ok := 0, 0
	for _, k := range keys {
		v := st.VerifyArtifact(k)
		addr := ""
		if m, err := st.Manifest(k); err == nil {
			addr = " " + m.Addr
		}
		switch {
		case len(v.Problems) > 0:
			bad++
			for _, p := range v.Problems {
				fmt.Fprintf(opts.IO.Out, "DAMAGED  %s%s: %s\n", k[:12], addr, p)
			}
		case v.NotChecked != "":
			fmt.Fprintf(opts.IO.Out, "SKIPPED  %s%s: not checked: %s\n", k[:12], addr, v.NotChecked)
			skipped = append(skipped, store.Skipped{Path: k[:2] + "/" + k, Reason: "not checked: " + v.NotChecked})
		default:
			ok++
			fmt.Fprintf(opts.IO.Out, "ok       %s%s\n", k[:12], addr)
		}
	}
	if len(skipped) > 0 {
		fmt.Fprintf(opts.IO.Out, "skipped %s: %s\n", cmdutil.CountEntries(len(skipped)), store.JoinSkipped(skipped))
	}
	switch {
	case bad > 0 && len(skipped) > 0:
		return fmt.Errorf("%d of %d artifact(s) damaged; the next apply recomputes them; %s could not be checked (listed above)", bad, len(keys), cmdutil.CountEntries(len(skipped)))
	case bad > 0:
		return fmt.Errorf("%d of %d artifact(s) damaged; the next apply recomputes them", bad, len(keys))
	case len(skipped) > 0:
		// Never claim a clean store when part of it could not be looked at.
		return fmt.Errorf("%d artifact(s) verified, but %s could not be checked (listed above)", ok, cmdutil.CountEntries(len(skipped)))
	}
	fmt.Fprintf(opts.IO.Out, "%d artifact(s) verified\n", ok)
	return nil
}
