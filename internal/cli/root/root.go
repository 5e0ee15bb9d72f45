package root

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"dmlrun/internal/cli/apply"
	"dmlrun/internal/cli/cache"
	"dmlrun/internal/cli/cmdutil"
	"dmlrun/internal/cli/completion"
	"dmlrun/internal/cli/diff"
	"dmlrun/internal/cli/export"
	"dmlrun/internal/cli/inspect"
	"dmlrun/internal/cli/plan"
	"dmlrun/internal/cli/runnode"
	"dmlrun/internal/cli/show"
	stagescmd "dmlrun/internal/cli/stages"
	"dmlrun/internal/cli/validate"
	"dmlrun/internal/cli/version"
	"dmlrun/internal/failpoint"
	"dmlrun/internal/iostreams"
	"dmlrun/stage"

	"github.com/spf13/cobra"
)

// Version is dmlrun's version, set at link time
// (-ldflags "-X dmlrun/internal/cli/root.Version=...").
var Version = "dev"

// ExitCode is the process exit status Main returns.
type ExitCode int

const (
	ExitOK         ExitCode = 0 // success
	ExitError      ExitCode = 1 // any failure
	ExitChanges    ExitCode = 2 // plan --detailed-exitcode: the plan has changes
	ExitRegression ExitCode = 3 // diff --check: a metric regressed beyond its tolerance
)

// NewCmd builds the dmlrun command tree: every command, each from its own package.
// cobra adds `completion` (bash, zsh, fish, powershell) itself; package completion
// completes the commands' arguments (files, addresses, diff sides, keys) for it.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
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
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &cmdutil.FlagError{Err: err} })

	root.AddCommand(
		validate.NewCmd(f, nil),
		plan.NewCmd(f, nil),
		apply.NewCmd(f, nil),
		show.NewCmd(f, nil),
		cache.NewCmd(f),
		version.NewCmd(f, nil),
		diff.NewCmd(f, nil),
		inspect.NewCmd(f, nil),
		stagescmd.NewCmd(f, nil),
		export.NewCmd(f, nil),
		runnode.NewCmd(f, nil), // hidden: what the Slurm executor's jobs run
	)
	completion.Register(root, f) // after every AddCommand: it walks the whole tree
	return root
}

// Main runs dmlrun with the process's arguments and streams, the given stages and the
// linked libtorch's version function, and returns the exit code. SIGINT and SIGTERM
// cancel the context: running stages are asked to stop, nothing new starts, and
// everything already finished stays in the store.
func Main(stages *stage.Registry, torchVersion func() string) ExitCode {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal, restore the default action so a second Ctrl-C ends the
		// process at once (committed artifacts are safe either way).
		<-ctx.Done()
		stop()
	}()
	f := cmdutil.NewFactory(iostreams.System(), stages)
	f.Version = Version
	if torchVersion != nil {
		f.TorchVersion = torchVersion
	}
	return Run(ctx, f, os.Args[1:])
}

// Run executes one command line against a factory and returns its exit code; tests call it
// in-process.
func Run(ctx context.Context, f *cmdutil.Factory, args []string) ExitCode {
	return execute(ctx, f, NewCmd(f), args)
}

func execute(ctx context.Context, f *cmdutil.Factory, root *cobra.Command, args []string) ExitCode {
	// A misspelt fault point must not let a crash test pass without crashing anything.
	if err := failpoint.Check(); err != nil {
		fmt.Fprintf(f.IOStreams.ErrOut, "Error: %v\n", err)
		return ExitError
	}
	root.SetArgs(cmdutil.NormalizeArgs(args))
	root.SetIn(f.IOStreams.In)
	root.SetOut(f.IOStreams.Out)
	root.SetErr(f.IOStreams.ErrOut)
	cmd, err := root.ExecuteContextC(ctx)
	return exitCode(f.IOStreams, cmd, err)
}

// exitCode is the one place that turns a command's error into an exit status, printing
// what the error leaves unsaid: the message (once), the usage for flag misuse, the
// regressions of a failed check.
func exitCode(ios *iostreams.IOStreams, cmd *cobra.Command, err error) ExitCode {
	if err == nil {
		return ExitOK
	}
	w := ios.ErrOut
	var (
		changes *cmdutil.ChangesPresentError
		regr    *cmdutil.RegressionError
		flagErr *cmdutil.FlagError
	)
	switch {
	case errors.As(err, &changes):
		return ExitChanges
	case errors.As(err, &regr):
		fmt.Fprintln(w, regr.Error())
		return ExitRegression
	case errors.Is(err, cmdutil.SilentError):
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
