package show

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"dmlrun/internal/cli/cmdutil"
	"dmlrun/internal/iostreams"
	"dmlrun/pipeline"
	"dmlrun/pipeline/slurm"
	"dmlrun/store"

	"github.com/spf13/cobra"
)

// Options are the inputs of dmlrun show.
type Options struct {
	IO      *iostreams.IOStreams
	Factory *cmdutil.Factory
	// Context ends decoding early when done; nil means context.Background().
	Context context.Context

	File string
	Addr string
	Vars []string
	JSON bool
	Cat  string // print this file of the artifact instead of the manifest
}

// NewCmd returns the show command; runF, when not nil, replaces the work.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "show FILE ADDR",
		Short: "Show a node's artifact: manifest, provenance and files",
		Long: `Show finds the node at ADDR (e.g. "train.nir[seed=0]") in the experiment, verifies
its artifact in the store and prints its parameters, inputs, provenance and files with their
sizes and digests. The artifact directory is printed so other tools can read it.
--cat NAME prints one of the artifact's files instead (e.g. --cat table.md of a report).`,
		Args: cmdutil.ExactArgs("FILE", "ADDR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File, opts.Addr = args[0], args[1]
			opts.Context = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return run(opts)
		},
	}
	cmd.Flags().StringArrayVar(&opts.Vars, "var", nil, "set an experiment variable (`name=value`; repeatable)")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the manifest and directory as JSON on stdout")
	cmd.Flags().StringVar(&opts.Cat, "cat", "", "print the artifact's file `NAME` (as listed by show) instead of the manifest")
	return cmd
}

// JSON is what show --json prints.
type JSON struct {
	Addr     string          `json:"addr"`
	Key      string          `json:"key"`
	Dir      string          `json:"dir"`
	Manifest *store.Manifest `json:"manifest"`
}

func run(opts *Options) error {
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	exp, err := cmdutil.LoadExperiment(ctx, opts.Factory, opts.File, cmdutil.LoadOptions{Vars: opts.Vars})
	if err != nil {
		return err
	}
	n, err := cmdutil.FindNode(exp.Graph, opts.File, opts.Addr)
	if err != nil {
		return err
	}
	st, err := opts.Factory.Store()
	if err != nil {
		return err
	}
	if n.KeyErr != nil {
		return fmt.Errorf("%s: no key: %w", opts.File, n.KeyErr)
	}
	art, err := st.Get(n.Key)
	if err != nil {
		return fmt.Errorf("%s (key %s…): %w%s; run apply to compute it", n.Addr, n.Key[:12], err, pending(ctx, opts, st, exp.ID, n.Key))
	}
	if opts.Cat != "" {
		return catFile(opts, n.Addr, art)
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, JSON{Addr: n.Addr, Key: n.Key, Dir: art.Dir, Manifest: art.Manifest})
	}
	renderManifest(opts.IO, n, art)
	return nil
}

func renderManifest(ios *iostreams.IOStreams, n *pipeline.Node, art *store.Artifact) {
	w := ios.Out
	m := art.Manifest
	fmt.Fprintf(w, "%s\n", n.Addr)
	fmt.Fprintf(w, "  stage       %s (version %d)\n", m.Stage, m.StageVersion)
	fmt.Fprintf(w, "  key         %s\n", m.Key)
	fmt.Fprintf(w, "  dir         %s\n", art.Dir)
	if m.Addr != n.Addr {
		fmt.Fprintf(w, "  computed as %s\n", m.Addr)
	}
	for _, in := range m.Inputs {
		fmt.Fprintf(w, "  input       %s = %s (%s…)\n", in.Param, in.Addr, in.Key[:12])
	}
	flat := pipeline.FlatParams(n.Params)
	names := make([]string, 0, len(flat))
	for k := range flat {
		names = append(names, k)
	}
	sort.Strings(names)
	if len(names) > 0 {
		fmt.Fprintf(w, "  params\n")
		for _, k := range names {
			fmt.Fprintf(w, "    %s = %s\n", k, flat[k])
		}
	}
	pv := m.Provenance
	fmt.Fprintf(w, "  provenance  dmlrun %s, libtorch %s, device %s, threads %d, host %s, pid %d\n",
		pv.DmlrunVersion, pv.TorchVersion, pv.Device, pv.Threads, pv.Host, pv.PID)
	resumed := ""
	if pv.Resumed {
		resumed = ", resumed"
	}
	fmt.Fprintf(w, "  time        %s to %s (%s%s)\n", pv.Start.Format("2006-01-02T15:04:05Z07:00"),
		pv.End.Format("2006-01-02T15:04:05Z07:00"), pv.End.Sub(pv.Start), resumed)
	fmt.Fprintf(w, "  files\n")
	for _, f := range m.Files {
		fmt.Fprintf(w, "    %10s  %s…  %s\n", cmdutil.HumanBytes(f.Size), f.SHA256[:12], f.Path)
	}
}

// catFile prints one file of a verified artifact; only files the manifest lists qualify,
// so a name cannot reach outside the artifact.
func catFile(opts *Options, addr string, art *store.Artifact) error {
	var names []string
	for _, f := range art.Manifest.Files {
		if f.Path == opts.Cat {
			b, err := os.ReadFile(filepath.Join(art.Dir, filepath.FromSlash(f.Path)))
			if err != nil {
				return fmt.Errorf("%s: %w", addr, err)
			}
			_, err = opts.IO.Out.Write(b)
			return err
		}
		names = append(names, f.Path)
	}
	return fmt.Errorf("%s has no file %q (files: %s)", addr, opts.Cat, strings.Join(names, ", "))
}

// pending says what is known of a node that is not in the store: the Slurm job a live run
// has for it (one squeue call, only when such runs are recorded) and the log of its last
// failed run.
func pending(ctx context.Context, opts *Options, st *store.Store, experiment, key string) string {
	var notes []string
	jobs, _, err := slurm.Jobs(ctx, st, &slurm.Commands{}, experiment)
	if j, ok := jobs[key]; ok {
		note := j.String()
		if err != nil {
			note += fmt.Sprintf(" (its state is unknown: %v)", err)
		}
		notes = append(notes, note)
	}
	if p := st.FailedLogPath(key); fileExists(p) {
		notes = append(notes, "its last run failed, log: "+p)
	}
	if len(notes) == 0 {
		return ""
	}
	return "; " + strings.Join(notes, "; ")
}

func fileExists(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode().IsRegular()
}
