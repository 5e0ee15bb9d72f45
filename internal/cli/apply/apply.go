package apply

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"dmlrun/internal/cli/cmdutil"
	"dmlrun/internal/iostreams"
	"dmlrun/pipeline"
	"dmlrun/stage"
	"dmlrun/store"

	"github.com/spf13/cobra"
)

// Options are the inputs of dmlrun apply.
type Options struct {
	IO      *iostreams.IOStreams
	Factory *cmdutil.Factory

	File    string
	Vars    []string
	Targets []string
	Jobs    int
	Device  string
	Threads int
	Verbose bool
	// Executable is the dmlrun that -j N runs its libtorch nodes with ("": this one).
	Executable string

	// Executor is "local" (this machine) or "slurm"; ExecutorConfig, Detach and Slurm are
	// read by the Slurm executor only.
	Executor       string
	ExecutorConfig string
	Detach         bool
	Slurm          SlurmFlags

	slurmSet []string // the slurm-only flags given (for validateExecutor)
	jobsSet  bool     // -j was given
}

// NewCmd returns the apply command; runF, when not nil, replaces the work (tests of flag
// parsing: it gets the options after validateOptions accepted them).
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "apply FILE",
		Short: "Run every node whose result is not in the store",
		Long: `Apply plans the experiment (see plan) and runs the nodes that are not cached, in
dependency order, up to -j at a time. With -j 1 the stages that use libtorch (train,
embed, evaluate) run one at a time in this process; with -j N > 1 each runs in a process
of its own (dmlrun run-node) with threads/N libtorch threads, so that N of them share the
machine. Results depend on the thread count, not on -j. Each
key is checked again under its lock just before its node runs, so several applies can
share a store and each node is computed once. Ctrl-C stops scheduling, asks running nodes
to stop, and keeps everything already finished; a resumable stage (train) continues from
its last checkpoint on the next apply.

With --executor slurm the nodes run on a Slurm cluster instead, one job per node, on a store
that the cluster's nodes share: see "Running on a Slurm cluster" in the README. Cluster
settings come from --executor-config FILE (HCL or YAML) and the flags marked "slurm:",
never from the experiment file, so keys and results are the same on any executor.`,
		Args: cmdutil.ExactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			opts.slurmSet, opts.jobsSet = changedSlurmFlags(cmd), cmd.Flags().Changed("jobs")
			if err := validateOptions(opts); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return run(cmd, opts)
		},
	}
	cmd.Flags().StringArrayVar(&opts.Vars, "var", nil, "set an experiment variable (`name=value`; repeatable)")
	cmd.Flags().StringArrayVar(&opts.Targets, "target", nil, "apply only this node or block and what it needs (`addr`; repeatable)")
	cmd.Flags().IntVarP(&opts.Jobs, "jobs", "j", 1, "run up to `N` nodes at once; with N > 1 each libtorch node (train, embed, evaluate) runs in a process of its own with threads/N threads")
	cmd.Flags().StringVar(&opts.Device, "device", "auto", "device for stages: auto, cpu or cuda:N")
	cmd.Flags().IntVar(&opts.Threads, "threads", 0, "intra-op threads for libtorch (0: $OMP_NUM_THREADS when set, else the number of CPUs)")
	cmd.Flags().BoolVarP(&opts.Verbose, "verbose", "v", false, "echo stage logs to stderr")
	addSlurmFlags(cmd.Flags(), opts)
	return cmd
}

var deviceRE = regexp.MustCompile(`^(auto|cpu|cuda|cuda:[0-9]+)$`)

// validateOptions checks flag values before any work.
func validateOptions(opts *Options) error {
	if opts.Jobs < 1 {
		return cmdutil.FlagErrorf("-j %d: want at least 1", opts.Jobs)
	}
	if opts.Threads < 0 {
		return cmdutil.FlagErrorf("--threads %d: want 0 (all CPUs) or more", opts.Threads)
	}
	if !deviceRE.MatchString(opts.Device) {
		return cmdutil.FlagErrorf("--device %q: want auto, cpu, cuda or cuda:N", opts.Device)
	}
	return validateExecutor(opts)
}

func run(cmd *cobra.Command, opts *Options) error {
	f := opts.Factory
	exp, err := cmdutil.LoadExperiment(cmd.Context(), f, opts.File, cmdutil.LoadOptions{Vars: opts.Vars})
	if err != nil {
		return err
	}
	st, err := f.Store()
	if err != nil {
		return err
	}
	p, err := pipeline.MakePlan(exp.Graph, st, exp.ID, exp.Path, opts.Targets)
	if err != nil {
		return err
	}
	ios := opts.IO
	cmdutil.RenderPlan(ios.ErrOut, p, false)
	if p.Changes() == 0 {
		fmt.Fprintln(ios.Out, "Nothing to do: every node is cached.")
		return nil
	}
	if opts.Executor == "slurm" {
		return runSlurm(cmd, opts, exp, st, p)
	}
	threads := opts.Threads
	if threads == 0 {
		threads = defaultThreads()
	}
	slot := &barSlot{}
	errw := &lockedWriter{w: ios.ErrOut}
	ex := &pipeline.Executor{
		Store:      st,
		Experiment: exp.ID,
		Jobs:       opts.Jobs,
		Device:     opts.Device,
		Threads:    threads,
		Provenance: store.Provenance{DmlrunVersion: f.Version, TorchVersion: f.TorchVersion()},
		Events:     errw,
		Now:        f.Now,
		Progress: func(addr string) stage.Progress {
			return &progress{ios: ios, w: errw, addr: addr, shared: slot, every: 10 * time.Minute, now: f.Now}
		},
	}
	if opts.Verbose {
		ex.LogEcho = func(addr string) io.Writer {
			return &prefixWriter{w: errw, prefix: addr + ": "}
		}
	}
	if opts.Jobs > 1 {
		// libtorch nodes share no process: each runs in its own, with threads/N threads.
		iso, err := newIsolator(opts.Executable, st.Dir(), opts.Verbose, errw)
		if err != nil {
			return err
		}
		defer iso.close()
		ex.Isolate = iso.run
	}
	res, err := ex.Apply(cmd.Context(), exp.Graph, p)
	summarise(ios, res)
	return err
}

// summarise prints the one-line outcome of an apply.
func summarise(ios *iostreams.IOStreams, res *pipeline.Result) {
	if res == nil {
		return
	}
	counts := map[pipeline.Status]int{}
	for _, r := range res.Nodes {
		counts[r.Status]++
	}
	fmt.Fprintf(ios.Out, "Apply: %d computed, %d cached, %d failed, %d not started.\n",
		counts[pipeline.StatusComputed], counts[pipeline.StatusCached], counts[pipeline.StatusFailed], counts[pipeline.StatusSkipped])
}

// defaultThreads is what --threads 0 means: OMP_NUM_THREADS when it is a whole number >= 1
// (as libtorch users expect), else every CPU this process may use.
func defaultThreads() int {
	if n, err := strconv.Atoi(strings.TrimSpace(os.Getenv("OMP_NUM_THREADS"))); err == nil && n >= 1 {
		return n
	}
	return runtime.NumCPU()
}
