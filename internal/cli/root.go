package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"dmlrun/internal/failpoint"
	"dmlrun/internal/iostreams"
	"dmlrun/stage"

	"github.com/spf13/cobra"
)

var (
	extraMu sync.Mutex
	extra   []func(f *Factory) *cobra.Command
)

// AddCommand registers an extra top-level command (dmlrun diff is added this way by its
// own package). Call it from an init function or from main before Main runs.
func AddCommand(newCmd func(f *Factory) *cobra.Command) {
	extraMu.Lock()
	defer extraMu.Unlock()
	extra = append(extra, newCmd)
}

// NewRootCmd builds the dmlrun command tree.
func NewRootCmd(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "dmlrun <command>",
		Short: "Run deep metric learning experiments declared in HCL or YAML files",
		Long: `dmlrun runs deep metric learning experiments declared in HCL or YAML files as a
graph of stages (load, train, evaluate, report). Every node has a content key; results
live in a content-addressed store and a node whose key is there is not run again.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       f.Version,
	}
	root.SetVersionTemplate("dmlrun {{.Version}}\n")
	root.PersistentFlags().StringVar(&f.StoreDir, "store", f.StoreDir, "store directory (one machine, local disk)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &FlagError{Err: err} })

	root.AddCommand(
		newValidateCmd(f, nil),
		newPlanCmd(f, nil),
		newApplyCmd(f, nil),
		newShowCmd(f, nil),
		newCacheCmd(f),
		newVersionCmd(f, nil),
	)
	extraMu.Lock()
	for _, newCmd := range extra {
		root.AddCommand(newCmd(f))
	}
	extraMu.Unlock()
	return root
}

// Main runs dmlrun with the process's arguments and streams and returns the exit code.
// SIGINT and SIGTERM cancel the context: running stages are asked to stop, nothing new
// starts, and everything already finished stays in the store.
func Main(stages *stage.Registry, torchVersion func() string) ExitCode {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal, restore the default action so a second Ctrl-C ends the
		// process at once (committed artifacts are safe either way).
		<-ctx.Done()
		stop()
	}()
	return Run(ctx, NewFactory(iostreams.System(), stages, torchVersion), os.Args[1:])
}

// Run executes one command line against a factory; tests call it in-process.
func Run(ctx context.Context, f *Factory, args []string) ExitCode {
	// A misspelt fault point must not let a crash test pass without crashing anything.
	if err := failpoint.Check(); err != nil {
		fmt.Fprintf(f.IOStreams.ErrOut, "Error: %v\n", err)
		return ExitError
	}
	root := NewRootCmd(f)
	root.SetArgs(normalizeArgs(args))
	root.SetIn(f.IOStreams.In)
	root.SetOut(f.IOStreams.Out)
	root.SetErr(f.IOStreams.ErrOut)
	cmd, err := root.ExecuteContextC(ctx)
	return handleError(f, cmd, err)
}

func handleError(f *Factory, cmd *cobra.Command, err error) ExitCode {
	if err == nil {
		return ExitOK
	}
	w := f.IOStreams.ErrOut
	var (
		changes *ChangesPresentError
		regr    *RegressionError
		flagErr *FlagError
	)
	switch {
	case errors.As(err, &changes):
		return ExitChanges
	case errors.As(err, &regr):
		fmt.Fprintln(w, regr.Error())
		return ExitRegression
	case errors.Is(err, SilentError):
		return ExitError
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(w, "Interrupted: %v\nFinished nodes are kept in the store; run apply again to continue.\n", err)
		return ExitError
	case errors.As(err, &flagErr) || strings.HasPrefix(err.Error(), "unknown command "):
		fmt.Fprintln(w, "Error:", err)
		if cmd != nil {
			fmt.Fprintln(w)
			fmt.Fprint(w, cmd.UsageString())
		}
		return ExitError
	}
	fmt.Fprintln(w, "Error:", err)
	return ExitError
}

// normalizeArgs accepts Terraform-style single-dash long flags (-var, -target,
// -detailed-exitcode, -json) by rewriting them to the double-dash form pflag parses;
// "-j" and other single-letter flags are left alone, and nothing after "--" is touched.
func normalizeArgs(args []string) []string {
	long := map[string]bool{"var": true, "target": true, "detailed-exitcode": true, "json": true, "store": true, "threads": true, "device": true}
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") {
			name, _, _ := strings.Cut(a[1:], "=")
			if long[name] {
				a = "-" + a
			}
		}
		out = append(out, a)
	}
	return out
}

// exactArgs is cobra.ExactArgs with a FlagError and the argument names in the message.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return flagErrorf("%s takes %d argument(s) (%s), got %d", cmd.CommandPath(), len(names), strings.Join(names, " "), len(args))
		}
		return nil
	}
}

// parseVars turns -var name=value settings into a map.
func parseVars(vars []string) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range vars {
		name, value, ok := strings.Cut(v, "=")
		if !ok || name == "" {
			return nil, flagErrorf("-var %q: want name=value", v)
		}
		out[name] = value
	}
	return out, nil
}
