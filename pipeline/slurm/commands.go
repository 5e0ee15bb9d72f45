package slurm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Commands runs Slurm's command-line tools (sbatch, squeue, sacct, scancel, scontrol,
// sinfo) through os/exec, as Snakemake, Nextflow and submitit do: there is no Go client for
// Slurm 22.05, and the tools are what every cluster has. Each method is one command; none
// is called per job where one call can serve many (Queue and Accounting take every job of
// a run at once).
type Commands struct {
	// Env is added to each command's environment (e.g. SLURM_CONF=...); the rest is this
	// process's.
	Env []string
	// Calls, when not nil, is called with every command line before it runs (tests and
	// the benchmark count them).
	Calls func(name string, args []string)
}

// CommandError is a Slurm command that failed: its name and arguments, exit status and
// what it printed on stderr.
type CommandError struct {
	Name   string
	Args   []string
	Err    error
	Stderr string
}

func (e *CommandError) Error() string {
	msg := fmt.Sprintf("%s %s: %v", e.Name, strings.Join(e.Args, " "), e.Err)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += ": " + s
	}
	if errors.Is(e.Err, exec.ErrNotFound) {
		msg += " (is this a Slurm login node? the Slurm client commands must be on PATH)"
	}
	return msg
}
func (e *CommandError) Unwrap() error { return e.Err }

// Transient reports whether the failure is one Slurm documents as passing (the controller
// busy or restarting): the caller may try again later.
func (e *CommandError) Transient() bool {
	s := strings.ToLower(e.Stderr)
	for _, m := range []string{"temporarily unavailable", "timed out", "socket", "try again", "connection refused", "unable to contact slurm controller", "slurm_persist_conn"} {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

func (c *Commands) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	if c.Calls != nil {
		c.Calls(name, args)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	if len(c.Env) > 0 {
		cmd.Env = append(os.Environ(), c.Env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), &CommandError{Name: name, Args: args, Err: err, Stderr: stderr.String()}
	}
	return stdout.Bytes(), nil
}

// JobID is a Slurm job id as squeue's %i prints it: "123", or "123_4" for task 4 of array
// job 123.
type JobID string

// ArrayTask returns the id of task i of array job id.
func ArrayTask(id JobID, i int) JobID { return JobID(fmt.Sprintf("%s_%d", id, i)) }

// Submit runs `sbatch --parsable ARGS... SCRIPT` and returns the job id it prints ("123",
// without a ";cluster" suffix).
func (c *Commands) Submit(ctx context.Context, args []string, script string) (JobID, error) {
	out, err := c.run(ctx, "sbatch", append(append([]string{"--parsable"}, args...), script)...)
	if err != nil {
		return "", err
	}
	id, _, _ := strings.Cut(strings.TrimSpace(string(out)), ";")
	if id == "" || strings.ContainsAny(id, " \t\n_") {
		return "", fmt.Errorf("sbatch printed %q, not a job id", strings.TrimSpace(string(out)))
	}
	return JobID(id), nil
}

// QueueEntry is one line of squeue: a job or one array task.
type QueueEntry struct {
	ID     JobID  // %i: "123" or "123_4"
	Raw    string // %A: the job's own id (a pending array task shows its array's)
	State  string // %T: PENDING, RUNNING, COMPLETED, FAILED, ...
	Reason string // %r: why it is pending, or how it ended
	Nodes  string // %N: where it runs or ran ("" while pending)
}

// Queue returns every job and array task (one per line: -r) named by one of names, in any
// state squeue still knows (-t all: finished jobs stay for the cluster's MinJobAge), in
// one call.
func (c *Commands) Queue(ctx context.Context, names []string) ([]QueueEntry, error) {
	if len(names) == 0 {
		return nil, nil
	}
	out, err := c.run(ctx, "squeue", "-h", "-r", "-t", "all", "--name="+strings.Join(names, ","), "-o", "%i|%A|%T|%r|%N")
	if err != nil {
		return nil, err
	}
	var entries []QueueEntry
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		f := strings.SplitN(line, "|", 5)
		if len(f) != 5 {
			return nil, fmt.Errorf("squeue printed %q, not id|raw id|state|reason|nodes", line)
		}
		entries = append(entries, QueueEntry{ID: JobID(f[0]), Raw: f[1], State: f[2], Reason: f[3], Nodes: f[4]})
	}
	return entries, nil
}

// AcctEntry is what accounting remembers of a finished job.
type AcctEntry struct {
	Raw      string // the job's own id
	State    string // COMPLETED, FAILED, CANCELLED, TIMEOUT, ... (without "by <uid>")
	ExitCode string // "1:0"
	Nodes    string
}

// Accounting asks sacct, in one call, how the jobs with these own ids ended: for jobs that
// squeue no longer lists. Without accounting storage (sacct says it is disabled), it asks
// `sacct -c`, which reads the job completion file. The last record of a job wins (a
// requeued job has one per start).
func (c *Commands) Accounting(ctx context.Context, raw []string) (map[string]AcctEntry, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	jobs := strings.Join(raw, ",")
	out, err := c.run(ctx, "sacct", "-n", "-P", "-X", "-o", "JobIDRaw,State,ExitCode,NodeList", "-j", jobs)
	var ce *CommandError
	if errors.As(err, &ce) && strings.Contains(strings.ToLower(ce.Stderr+string(out)), "accounting storage is disabled") ||
		err == nil && strings.Contains(strings.ToLower(string(out)), "accounting storage is disabled") {
		out, err = c.run(ctx, "sacct", "-c", "-n", "-P", "-o", "JobID,State,ExitCode,NodeList", "-j", jobs)
	}
	if err != nil {
		return nil, err
	}
	m := map[string]AcctEntry{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(strings.TrimSpace(line), "|")
		if len(f) != 4 {
			continue // sacct -c also prints "Unknown type" complaints about array fields
		}
		state, _, _ := strings.Cut(f[1], " ")
		m[f[0]] = AcctEntry{Raw: f[0], State: state, ExitCode: f[2], Nodes: f[3]}
	}
	return m, nil
}

// CancelName cancels every job named name (`scancel --name=NAME`), or only those still
// pending.
func (c *Commands) CancelName(ctx context.Context, name string, pendingOnly bool) error {
	args := []string{"--name=" + name}
	if pendingOnly {
		args = append(args, "--state=PENDING")
	}
	_, err := c.run(ctx, "scancel", args...)
	return err
}

// Requeue puts a running job back into the queue from inside it: `scontrol update
// jobid=ID requeue=1`, then `scontrol requeue ID`. dmlrun submits with --no-requeue, so
// that Slurm never restarts a failed node behind the head's back; Slurm 22.05 refuses to
// requeue such a job ("Requested operation is presently disabled"), so the job first
// allows it for itself. Slurm kills the job's processes when it requeues it, and starts it
// again after the cluster's credential lifetime (AuthInfo cred_expire, 120 s by default).
func (c *Commands) Requeue(ctx context.Context, id string) error {
	if _, err := c.run(ctx, "scontrol", "update", "jobid="+id, "requeue=1"); err != nil {
		return err
	}
	_, err := c.run(ctx, "scontrol", "requeue", id)
	return err
}

// Nodes lists the nodes of a partition ("" the default one), one call to sinfo.
func (c *Commands) Nodes(ctx context.Context, partition string) ([]string, error) {
	args := []string{"-h", "-N", "-o", "%N"}
	if partition != "" {
		args = append(args, "-p", partition)
	}
	out, err := c.run(ctx, "sinfo", args...)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var nodes []string
	for _, f := range strings.Fields(string(out)) {
		if !seen[f] {
			seen[f] = true
			nodes = append(nodes, f)
		}
	}
	return nodes, nil
}

// Terminal reports whether a job in this state has ended and will not run again by itself.
func Terminal(state string) bool {
	switch state {
	case "COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "PREEMPTED", "NODE_FAIL", "BOOT_FAIL", "DEADLINE",
		"OUT_OF_MEMORY", "REVOKED", "SPECIAL_EXIT":
		return true
	}
	return false
}
