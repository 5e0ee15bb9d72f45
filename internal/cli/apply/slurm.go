package apply

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"dmlrun/internal/cli/cmdutil"
	"dmlrun/internal/iostreams"
	"dmlrun/pipeline"
	"dmlrun/pipeline/slurm"
	"dmlrun/store"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// SlurmFlags are the command-line cluster settings of --executor slurm; each overrides the
// executor config file's.
type SlurmFlags struct {
	Partition, Account    string
	MaxJobs, ArrayLimit   int
	Retries               int
	SignalLead            string
	SbatchArgs            []string
	Time, GPUs, CPUs, Mem []string // [KIND=]VALUE, repeatable
}

// slurmFlagNames are the flags that only --executor slurm reads.
var slurmFlagNames = []string{"executor-config", "detach", "partition", "account", "max-jobs", "array-limit", "retries",
	"signal-lead", "sbatch-arg", "time", "gpus", "cpus", "mem"}

func addSlurmFlags(fs *pflag.FlagSet, opts *Options) {
	s := &opts.Slurm
	fs.StringVar(&opts.Executor, "executor", "local", "where nodes run: local (this machine) or slurm (one Slurm job per node, on a shared store)")
	fs.StringVar(&opts.ExecutorConfig, "executor-config", "", "cluster settings `FILE` (HCL or YAML) for --executor slurm")
	fs.BoolVar(&opts.Detach, "detach", false, "slurm: submit every remaining node with afterok dependencies and exit; plan shows the jobs")
	fs.StringVar(&s.Partition, "partition", "", "slurm: the partition jobs go to")
	fs.StringVar(&s.Account, "account", "", "slurm: the account jobs are charged to")
	fs.IntVar(&s.MaxJobs, "max-jobs", 0, "slurm: at most `N` nodes submitted and not finished at once (default 100)")
	fs.IntVar(&s.ArrayLimit, "array-limit", 0, "slurm: at most `N` tasks of one job array run at once (default: --max-jobs)")
	fs.IntVar(&s.Retries, "retries", -1, "slurm: submit a failed node again up to `N` times, avoiding the hosts that failed it (default 2)")
	fs.StringVar(&s.SignalLead, "signal-lead", "", "slurm: how long before its time limit a job is told to checkpoint and requeue (`DURATION`, at least 2m; default 5m)")
	fs.StringArrayVar(&s.SbatchArgs, "sbatch-arg", nil, "slurm: pass `ARG` to every sbatch (--sbatch-arg=--qos=short; repeatable)")
	fs.StringArrayVar(&s.Time, "time", nil, "slurm: time limit, for every stage or one (`[KIND=]DURATION`: 2h, train=1-00:00:00; repeatable)")
	fs.StringArrayVar(&s.GPUs, "gpus", nil, "slurm: GPUs per train node, as --gres=gpu:N (`[KIND=]N`; repeatable)")
	fs.StringArrayVar(&s.CPUs, "cpus", nil, "slurm: CPUs per node's job (`[KIND=]N`; repeatable)")
	fs.StringArrayVar(&s.Mem, "mem", nil, "slurm: memory per node's job, as sbatch --mem takes it (`[KIND=]SIZE`: 16G; repeatable)")
}

// changedSlurmFlags returns the slurm-only flags the command line set.
func changedSlurmFlags(cmd *cobra.Command) []string {
	var set []string
	for _, name := range slurmFlagNames {
		if cmd.Flags().Changed(name) {
			set = append(set, "--"+name)
		}
	}
	return set
}

// validateExecutor checks the executor flags' combinations before any work.
func validateExecutor(opts *Options) error {
	switch opts.Executor {
	case "local":
		if len(opts.slurmSet) > 0 {
			return cmdutil.FlagErrorf("%s: only --executor slurm reads it; add --executor slurm, or drop it to run here", strings.Join(opts.slurmSet, ", "))
		}
		return nil
	case "slurm":
	default:
		return cmdutil.FlagErrorf("--executor %q: want local or slurm", opts.Executor)
	}
	if opts.jobsSet {
		return cmdutil.FlagErrorf("-j: --executor slurm runs one job per node; use --max-jobs to bound how many are in flight")
	}
	for _, a := range opts.Slurm.SbatchArgs {
		if err := slurm.CheckExtraArg(a); err != nil {
			return cmdutil.FlagErrorf("--sbatch-arg %s", err)
		}
	}
	if opts.Slurm.SignalLead != "" {
		if _, err := slurm.ParseDuration(opts.Slurm.SignalLead); err != nil {
			return cmdutil.FlagErrorf("--signal-lead: %v", err)
		}
	}
	for _, f := range []struct {
		name   string
		values []string
	}{{"time", opts.Slurm.Time}, {"gpus", opts.Slurm.GPUs}, {"cpus", opts.Slurm.CPUs}, {"mem", opts.Slurm.Mem}} {
		for _, v := range f.values {
			if _, err := applyResource(slurm.Defaults(), f.name, v); err != nil {
				return cmdutil.FlagErrorf("--%s %s", f.name, err)
			}
		}
	}
	return nil
}

// applyResource sets one [KIND=]VALUE resource flag on s; a bare value is for every stage
// ("default"), except --gpus, which is for train (the stage that uses GPUs). It returns the
// kind it set.
func applyResource(s *slurm.Settings, flag, v string) (string, error) {
	kind, value, ok := strings.Cut(v, "=")
	if !ok {
		kind, value = slurm.DefaultKind, v
		if flag == "gpus" {
			kind = "train"
		}
	}
	if kind == "" || value == "" {
		return "", fmt.Errorf("%q: want [KIND=]VALUE", v)
	}
	r := s.Stages[kind]
	switch flag {
	case "time":
		d, err := slurm.ParseDuration(value)
		if err != nil {
			return "", err
		}
		r.Time = d
	case "gpus", "cpus":
		n, err := strconv.Atoi(value)
		if err != nil || n < 0 || (flag == "cpus" && n == 0) {
			return "", fmt.Errorf("%q: want a whole number (of at least 1 for --cpus)", v)
		}
		if flag == "gpus" {
			r.GPUs, r.Gres = n, ""
		} else {
			r.CPUs = n
		}
	case "mem":
		if strings.TrimRight(strings.ToUpper(value), "KMGT") == "" || strings.Trim(strings.TrimRight(strings.ToUpper(value), "KMGT"), "0123456789") != "" {
			return "", fmt.Errorf("%q: want a size as sbatch --mem takes it (16G, 4000M)", v)
		}
		r.Memory = value
	}
	s.Stages[kind] = r
	return kind, nil
}

// slurmSettings builds the settings: defaults, then the config file, then the flags.
// Problems in the file are shown as diagnostics (then SilentError is returned).
func slurmSettings(opts *Options) (*slurm.Settings, error) {
	f := opts.Factory
	s := slurm.Defaults()
	kinds := f.Stages.Kinds()
	if opts.ExecutorConfig != "" {
		var diags hcl.Diagnostics
		var files map[string]*hcl.File
		s, diags, files = slurm.DecodeFile(opts.ExecutorConfig, s, kinds)
		if len(diags) > 0 {
			if err := cmdutil.WriteDiagnostics(opts.IO, files, diags); err != nil {
				return nil, err
			}
			if diags.HasErrors() {
				return nil, cmdutil.SilentError
			}
		}
	}
	fl := opts.Slurm
	if fl.Partition != "" {
		s.Partition = fl.Partition
	}
	if fl.Account != "" {
		s.Account = fl.Account
	}
	if fl.MaxJobs != 0 {
		s.MaxJobs = fl.MaxJobs
	}
	if fl.ArrayLimit != 0 {
		s.ArrayLimit = fl.ArrayLimit
	}
	if fl.Retries >= 0 {
		s.Retries = fl.Retries
	}
	if fl.SignalLead != "" {
		s.SignalLead, _ = slurm.ParseDuration(fl.SignalLead) // checked by validateExecutor
	}
	s.ExtraArgs = append(s.ExtraArgs, fl.SbatchArgs...)
	for _, rf := range []struct {
		name   string
		values []string
	}{{"time", fl.Time}, {"gpus", fl.GPUs}, {"cpus", fl.CPUs}, {"mem", fl.Mem}} {
		for _, v := range rf.values {
			kind, err := applyResource(s, rf.name, v)
			if err != nil {
				return nil, cmdutil.FlagErrorf("--%s %s", rf.name, err)
			}
			if kind != slurm.DefaultKind && !contains(kinds, kind) {
				return nil, cmdutil.FlagErrorf("--%s %s: %q is not a stage kind of this dmlrun (kinds: %s)", rf.name, v, kind, strings.Join(kinds, ", "))
			}
		}
	}
	if err := s.Check(); err != nil {
		return nil, cmdutil.FlagErrorf("%v", err)
	}
	return s, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// confirmCancel asks on a terminal whether to cancel the run's jobs after Ctrl-C; without
// a terminal (a batch job, CI, nohup) it cancels them, as the interrupt asks.
func confirmCancel(ios *iostreams.IOStreams, run string) func(int) bool {
	return func(n int) bool {
		in, ok := ios.In.(*os.File)
		if !ok || !term.IsTerminal(int(in.Fd())) || !ios.IsStderrTTY() {
			return true
		}
		fmt.Fprintf(ios.ErrOut, "\nInterrupted. Cancel the run's %d queued or running Slurm job(s) (scancel --name=%s)? [y/N] ", n, run)
		line, _ := bufio.NewReader(in).ReadString('\n')
		answer := strings.ToLower(strings.TrimSpace(line))
		return answer == "y" || answer == "yes"
	}
}

// runSlurm applies the plan with the Slurm executor, or submits it with --detach.
func runSlurm(cmd *cobra.Command, opts *Options, exp *cmdutil.Experiment, st *store.Store, p *pipeline.Plan) error {
	settings, err := slurmSettings(opts)
	if err != nil {
		return err
	}
	f, ios := opts.Factory, opts.IO
	errw := &lockedWriter{w: ios.ErrOut}
	for _, run := range slurm.Prune(st, "") {
		fmt.Fprintf(errw, "slurm: removed the records of finished run %s\n", run)
	}
	run := slurm.NewRunName(exp.Path)
	ex := &slurm.Executor{
		Store: st, Experiment: exp.ID, Display: exp.Path, Settings: settings, Commands: &slurm.Commands{},
		Device: opts.Device, Threads: opts.Threads, Run: run, Events: errw, Now: f.Now,
		Confirm: confirmCancel(ios, run),
	}
	if opts.Detach {
		d, err := ex.Detach(cmd.Context(), exp.Graph, p)
		if err != nil {
			return err
		}
		if d.Jobs == 0 {
			fmt.Fprintln(ios.Out, "Nothing to submit: every node is cached.")
			return nil
		}
		fmt.Fprintf(ios.Out, "Submitted %d node(s) as Slurm jobs named %s (%d cached); `dmlrun plan %s` shows them, `scancel --name=%s` cancels them. Jobs and logs: %s\n",
			d.Jobs, d.Run, d.Cached, exp.Path, d.Run, d.Dir)
		return nil
	}
	res, err := ex.Apply(cmd.Context(), exp.Graph, p)
	summarise(ios, res)
	return err
}
