package runnode

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"

	"dmlrun/internal/cli/cmdutil"
	"dmlrun/internal/iostreams"
	"dmlrun/pipeline"
	"dmlrun/pipeline/slurm"
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
}

// NewCmd returns the run-node command (hidden: the Slurm executor's jobs run it); runF,
// when not nil, replaces the work.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	return &cobra.Command{
		Use:    "run-node JOBFILE",
		Short:  "Run one frozen node in a Slurm job (used by apply --executor slurm)",
		Hidden: true,
		Long: `run-node runs the one node frozen in JOBFILE (a JSON file the Slurm executor writes into
the store's jobs/ folder) against the store given with --store, exactly as apply runs a
node: under its key's lock, cached when another process computed it, resumed from its
checkpoint when an earlier attempt left one. SIGUSR1 (sbatch --signal=B:USR1@T) stops a
training at a step boundary, keeps its checkpoint and requeues the job; SIGTERM stops the
node. The attempt's outcome is written next to JOBFILE for the head.`,
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
	nr := &slurm.NodeRun{
		Executor: &pipeline.Executor{
			Store:      st,
			Provenance: store.Provenance{DmlrunVersion: f.Version, TorchVersion: f.TorchVersion()},
			Events:     w,
			LogEcho:    func(string) io.Writer { return w },
			Now:        f.Now,
		},
		Stages: f.Stages, JobFile: opts.JobFile, Commands: &slurm.Commands{}, Signals: sigs,
		Getenv: f.Getenv, Log: w, Now: f.Now,
	}
	// Ending the context ourselves (SIGTERM) is NodeRun's decision, so it gets a context
	// of its own; the signals reach it on sigs.
	err = nr.Run(context.WithoutCancel(ctx))
	if errors.Is(err, slurm.ErrRequeued) {
		return nil
	}
	return err
}
