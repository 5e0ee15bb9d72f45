package ls

import (
	"fmt"
	"text/tabwriter"
	"time"

	"dmlrun/internal/cli/cmdutil"
	"dmlrun/internal/iostreams"
	"dmlrun/store"

	"github.com/spf13/cobra"
)

// Options are the inputs of dmlrun cache ls.
type Options struct {
	IO      *iostreams.IOStreams
	Factory *cmdutil.Factory
	JSON    bool
}

// NewCmd returns the cache ls command; runF, when not nil, replaces the work.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List the artifacts in the store",
		Args:  cmdutil.ExactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return run(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the list as JSON on stdout")
	return cmd
}

// Entry is one line of cache ls.
type Entry struct {
	Key   string    `json:"key"`
	Stage string    `json:"stage"`
	Addr  string    `json:"addr"`
	Size  int64     `json:"size"`
	End   time.Time `json:"end"`
	Error string    `json:"error,omitempty"`
}

func run(opts *Options) error {
	st, err := opts.Factory.Store()
	if err != nil {
		return err
	}
	keys, skipped, err := st.Scan()
	if err != nil {
		return err
	}
	if len(skipped) > 0 {
		// Diagnostics, not part of the listing (which --json keeps as a plain list).
		fmt.Fprintf(opts.IO.ErrOut, "warning: skipped %s: %s\n", cmdutil.CountEntries(len(skipped)), store.JoinSkipped(skipped))
	}
	entries := []Entry{}
	for _, k := range keys {
		e := Entry{Key: k, Size: st.Size(k)}
		if m, err := st.Manifest(k); err != nil {
			e.Error = err.Error()
		} else {
			e.Stage, e.Addr, e.End = m.Stage, m.Addr, m.Provenance.End
		}
		entries = append(entries, e)
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, entries)
	}
	tw := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tSTAGE\tADDR\tSIZE\tFINISHED")
	var total int64
	for _, e := range entries {
		total += e.Size
		if e.Error != "" {
			fmt.Fprintf(tw, "%s\t?\t?\t%s\tbad manifest: %s\n", e.Key[:12], cmdutil.HumanBytes(e.Size), e.Error)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Key[:12], e.Stage, e.Addr, cmdutil.HumanBytes(e.Size), e.End.Local().Format("2006-01-02 15:04"))
	}
	tw.Flush()
	fmt.Fprintf(opts.IO.Out, "%d artifact(s), %s in %s\n", len(entries), cmdutil.HumanBytes(total), st.Dir())
	return nil
}
