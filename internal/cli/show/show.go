package show

import (
	"context"
	"encoding/json"
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

	File string // "" when Key names the artifact
	Addr string // a node or block address, or a key prefix of one of File's nodes
	Key  string // show KEY: a content key or unique prefix, looked up in the store alone
	Vars []string
	JSON bool
	Cat  string // print this file of the artifact instead of the manifest
}

// NewCmd returns the show command; runF, when not nil, replaces the work.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "show FILE ADDR | show KEY",
		Short: "Show a node's artifact: manifest, provenance and files",
		Long: `Show finds the node at ADDR (e.g. "train.nir[seed=0]") in the experiment, verifies
its artifact in the store and prints its parameters, inputs, provenance and files with their
sizes and digests. The artifact directory is printed so other tools can read it.
--cat NAME prints one of the artifact's files instead (e.g. --cat table.md of a report).

ADDR may also be a key prefix of one of the file's nodes, and "show KEY" looks an artifact
up in the store without an experiment file (it is then named by the address that first
computed it, as its manifest records). A key is a full content key or any prefix of at
least 8 hex digits that names one artifact: the 12 digits plan, apply and cache print will
do. An ambiguous prefix is an error that lists what it matches.`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch len(args) {
			case 1:
				if err := store.CheckKeyPrefix(args[0]); err != nil {
					return cmdutil.FlagErrorf("%s takes FILE ADDR, or a KEY alone: %v", cmd.CommandPath(), err)
				}
				return nil
			case 2:
				return nil
			}
			return cmdutil.FlagErrorf("%s takes FILE ADDR or KEY, got %d argument(s)", cmd.CommandPath(), len(args))
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Key = args[0]
			} else {
				opts.File, opts.Addr = args[0], args[1]
			}
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
	if opts.File == "" {
		return runKey(opts)
	}
	exp, err := cmdutil.LoadExperiment(ctx, opts.Factory, opts.File, cmdutil.LoadOptions{Vars: opts.Vars})
	if err != nil {
		return err
	}
	n, err := findNode(exp.Graph, opts.File, opts.Addr)
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
	renderManifest(opts.IO, n.Addr, n.Params, art)
	return nil
}

// findNode resolves ADDR in the graph: a node or block address (cmdutil.FindNode), else a
// key prefix of exactly one node.
func findNode(g *pipeline.Graph, file, addr string) (*pipeline.Node, error) {
	n, err := cmdutil.FindNode(g, file, addr)
	if err == nil || store.CheckKeyPrefix(addr) != nil {
		return n, err
	}
	var matches []*pipeline.Node
	for _, m := range g.Nodes {
		if m.KeyErr == nil && strings.HasPrefix(m.Key, addr) {
			matches = append(matches, m)
		}
	}
	switch len(matches) {
	case 0:
		return nil, fmt.Errorf("%s: no node %s in the experiment, and no node's key starts with %s (dmlrun show %s looks the key up in the store alone)", file, addr, addr, addr)
	case 1:
		return matches[0], nil
	}
	names := make([]string, len(matches))
	for i, m := range matches {
		names[i] = m.Key[:12] + " " + m.Addr
	}
	return nil, fmt.Errorf("%s: key prefix %s is ambiguous: %d nodes match: %s; give more digits", file, addr, len(matches), strings.Join(names, ", "))
}

// runKey is show KEY: the artifact from the store alone, named as its manifest names it.
func runKey(opts *Options) error {
	st, err := opts.Factory.Store()
	if err != nil {
		return err
	}
	key, err := cmdutil.ResolveKey(st, opts.Key)
	if err != nil {
		return err
	}
	art, err := st.Get(key)
	if err != nil {
		note := ""
		if p := st.FailedLogPath(key); fileExists(p) {
			note = "; its last run failed, log: " + p
		}
		return fmt.Errorf("key %s…: %w%s", key[:12], err, note)
	}
	m := art.Manifest
	if opts.Cat != "" {
		return catFile(opts, m.Addr, art)
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, JSON{Addr: m.Addr, Key: key, Dir: art.Dir, Manifest: m})
	}
	renderManifest(opts.IO, m.Addr, displayParams(m.Params).(map[string]any), art)
	return nil
}

// displayParams turns a manifest's JSON numbers (json.Number) into the int64 and float64
// values a node's parameters hold, so that show KEY prints them as show FILE ADDR does
// ("1e-05", not "0.00001"). It is for display only: the key check reads them through the
// stage's schema (pipeline.ManifestKey).
func displayParams(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = displayParams(x)
		}
		return out
	case []any:
		// Lists of one kind take the typed form parameters have ([]string, []int64,
		// []float64), which renders as show FILE ADDR renders it.
		out := make([]any, len(v))
		var strs, ints, floats int
		for i, x := range v {
			out[i] = displayParams(x)
			switch out[i].(type) {
			case string:
				strs++
			case int64:
				ints++
			case float64:
				floats++
			}
		}
		switch n := len(out); {
		case n > 0 && strs == n:
			return typedList[string](out)
		case n > 0 && ints == n:
			return typedList[int64](out)
		case n > 0 && ints+floats == n:
			fs := make([]float64, n)
			for i, x := range out {
				if f, ok := x.(float64); ok {
					fs[i] = f
				} else {
					fs[i] = float64(x.(int64))
				}
			}
			return fs
		}
		return out
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		if f, err := v.Float64(); err == nil {
			return f
		}
	}
	return v
}

func typedList[T any](xs []any) []T {
	out := make([]T, len(xs))
	for i, x := range xs {
		out[i] = x.(T)
	}
	return out
}

// renderManifest prints an artifact as the node addr with params (the node's, filled by
// the file; or the manifest's own) names it.
func renderManifest(ios *iostreams.IOStreams, addr string, params map[string]any, art *store.Artifact) {
	w := ios.Out
	m := art.Manifest
	fmt.Fprintf(w, "%s\n", addr)
	fmt.Fprintf(w, "  stage       %s (version %d)\n", m.Stage, m.StageVersion)
	fmt.Fprintf(w, "  key         %s\n", m.Key)
	fmt.Fprintf(w, "  dir         %s\n", art.Dir)
	if m.Addr != addr {
		fmt.Fprintf(w, "  computed as %s\n", m.Addr)
	}
	for _, in := range m.Inputs {
		fmt.Fprintf(w, "  input       %s = %s (%s…)\n", in.Param, in.Addr, in.Key[:12])
	}
	flat := pipeline.FlatParams(params)
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
