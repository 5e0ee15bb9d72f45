package runnode

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"

	"dmlrun/internal/cli/apply"
	"dmlrun/internal/cli/cmdutil"
	"dmlrun/internal/iostreams"
	"dmlrun/pipeline"
	"dmlrun/pipeline/slurm"
	"dmlrun/stage"
	"dmlrun/store"

	"github.com/spf13/cobra"
)

// Options are the inputs of dmlrun run-node.
type Options struct {
	IO      *iostreams.IOStreams
	Factory *cmdutil.Factory
	// Context is the command's; nil means context.Background().
	Context context.Context
	// Signals, when not nil, replaces the process's SIGUSR1, SIGTERM and SIGINT (tests).
	Signals <-chan os.Signal

	JobFile string
	// Local: the node is one of a local apply -j N's isolated nodes, not a Slurm job: no
	// Slurm commands, progress lines on stderr, and the stage's log echoed only with
	// Verbose.
	Local   bool
	Verbose bool
}

// NewCmd returns the run-node command (hidden: the Slurm executor's jobs run it); runF,
// when not nil, replaces the work.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:    "run-node JOBFILE",
		Short:  "Run one frozen node in a Slurm job or for apply -j N (used by apply)",
		Hidden: true,
		Long: `run-node runs the one node frozen in JOBFILE (a JSON file the Slurm executor writes into
the store's jobs/ folder) against the store given with --store, exactly as apply runs a
node: under its key's lock, cached when another process computed it, resumed from its
checkpoint when an earlier attempt left one. SIGUSR1 (sbatch --signal=B:USR1@T) stops a
training at a step boundary, keeps its checkpoint and requeues the job; SIGTERM stops the
node. The attempt's outcome is written next to JOBFILE for the head.

With --local it runs one libtorch node of a local apply -j N (which starts one run-node
per such node, so that they run side by side with their share of the cores): no Slurm
commands, progress lines on stderr, the stage's log echoed only with --verbose.`,
		Args: cmdutil.ExactArgs("JOBFILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.JobFile = args[0]
			opts.Context = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return run(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Local, "local", false, "run for a local apply -j N, not in a Slurm job")
	cmd.Flags().BoolVarP(&opts.Verbose, "verbose", "v", false, "with --local: echo the stage's log to stderr")
	return cmd
}

func run(opts *Options) error {
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	sigs := opts.Signals
	if sigs == nil {
		// SIGUSR1 would end the process by default: it must be caught before anything
		// slow happens.
		ch := make(chan os.Signal, 4)
		signal.Notify(ch, syscall.SIGUSR1, syscall.SIGTERM, syscall.SIGINT)
		defer signal.Stop(ch)
		sigs = ch
	}
	f := opts.Factory
	st, err := f.Store()
	if err != nil {
		return err
	}
	w := opts.IO.ErrOut
	ex := &pipeline.Executor{
		Store:      st,
		Provenance: store.Provenance{DmlrunVersion: f.Version, TorchVersion: f.TorchVersion()},
		Events:     w,
		LogEcho:    func(string) io.Writer { return w },
		Now:        f.Now,
	}
	nr := &slurm.NodeRun{
		Executor: ex, Stages: f.Stages, JobFile: opts.JobFile, Commands: &slurm.Commands{}, Signals: sigs,
		Getenv: f.Getenv, Log: w, Now: f.Now,
	}
	if opts.Local {
		// The apply that started this process prints the events and the progress of all
		// its nodes on one stderr; a stage's whole log only when asked (-v).
		nr.Commands, nr.Log = nil, nil
		ex.LogEcho = nil
		if opts.Verbose {
			ex.LogEcho = func(addr string) io.Writer { return apply.PrefixWriter(w, addr+": ") }
		}
		ex.Progress = func(addr string) stage.Progress { return apply.NodeProgress(opts.IO, w, addr, f.Now) }
	}
	// Ending the context ourselves (SIGTERM) is NodeRun's decision, so it gets a context
	// of its own; the signals reach it on sigs.
	err = nr.Run(context.WithoutCancel(ctx))
	if errors.Is(err, slurm.ErrRequeued) {
		return nil
	}
	return err
}
