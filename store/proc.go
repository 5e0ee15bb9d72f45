package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// holderID is what a lease says about the process that took it: enough to tell, from
// another process, whether that very process still runs. A pid alone is not: pids are
// reused, other machines have their own, and so do other pid namespaces (containers) on
// one machine.
type holderID struct {
	PID       int
	Host      string
	ProcStart string    // /proc/<pid>/stat field 22: start time in clock ticks after boot
	BootID    string    // /proc/sys/kernel/random/boot_id: changes on every boot
	MachineID string    // /etc/machine-id: one per installation, kept across boots
	PidNS     string    // readlink /proc/self/ns/pid: "pid:[4026531836]"
	Slurm     *SlurmJob // nil outside a Slurm job
}

// currentHolder describes this process. Whatever cannot be read is left empty, which makes
// other processes judge its leases more conservatively (by heartbeat), never less.
func currentHolder(host string, getenv func(string) string) holderID {
	id := holderID{PID: os.Getpid(), Host: host, Slurm: slurmFromEnv(getenv)}
	if _, start, err := readProcStat(id.PID); err == nil {
		id.ProcStart = start
	}
	if b, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		id.BootID = strings.TrimSpace(string(b))
	}
	for _, p := range []string{"/etc/machine-id", "/var/lib/dbus/machine-id"} {
		if b, err := os.ReadFile(p); err == nil && len(bytes.TrimSpace(b)) > 0 {
			id.MachineID = string(bytes.TrimSpace(b))
			break
		}
	}
	if ns, err := os.Readlink("/proc/self/ns/pid"); err == nil {
		id.PidNS = ns
	}
	return id
}

// slurmFromEnv reads the job this process runs in from the variables Slurm sets in every
// job and job step; nil when SLURM_JOB_ID is unset.
func slurmFromEnv(getenv func(string) string) *SlurmJob {
	id := strings.TrimSpace(getenv("SLURM_JOB_ID"))
	if id == "" {
		return nil
	}
	restarts, _ := strconv.Atoi(strings.TrimSpace(getenv("SLURM_RESTART_COUNT")))
	return &SlurmJob{
		ID:        id,
		ArrayJob:  strings.TrimSpace(getenv("SLURM_ARRAY_JOB_ID")),
		ArrayTask: strings.TrimSpace(getenv("SLURM_ARRAY_TASK_ID")),
		Cluster:   strings.TrimSpace(getenv("SLURM_CLUSTER_NAME")),
		Restarts:  restarts,
	}
}

// readProcStat returns a process's state letter and start time (clock ticks after boot)
// from /proc/<pid>/stat.
func readProcStat(pid int) (state byte, start string, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, "", err
	}
	// Field 2 is the command name in parentheses, which may itself hold spaces and
	// parentheses: the fields after it start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, "", fmt.Errorf("/proc/%d/stat: no command field", pid)
	}
	fields := strings.Fields(string(b[i+1:]))
	// fields[0] is field 3 (state); field 22 (starttime) is fields[19].
	if len(fields) < 20 || len(fields[0]) != 1 {
		return 0, "", fmt.Errorf("/proc/%d/stat: %d fields after the command, want at least 20", pid, len(fields))
	}
	return fields[0][0], fields[19], nil
}

// procVerdict is what this machine can tell about a pid recorded in a lease.
type procVerdict int

const (
	procUnknown procVerdict = iota // cannot tell (no /proc, hidden by hidepid, no start time recorded)
	procSame                       // the recorded process is running
	procGone                       // no such process, or it has exited (a zombie)
	procOther                      // the pid now belongs to another process (its start time differs)
)

// checkProc judges whether the process pid, started at start (may be empty), still runs
// on this machine. kill(pid, 0) comes first because it sees processes of other users
// even where /proc hides them (hidepid=2, common on clusters): ESRCH is the only proof
// of absence, and EPERM means it exists.
func checkProc(pid int, start string) (procVerdict, string) {
	if pid <= 0 {
		return procUnknown, ""
	}
	if err := unix.Kill(pid, 0); errors.Is(err, unix.ESRCH) {
		return procGone, ""
	}
	state, now, err := readProcStat(pid)
	if err != nil {
		// It may have exited between the two calls; else /proc hides it.
		if err := unix.Kill(pid, 0); errors.Is(err, unix.ESRCH) {
			return procGone, ""
		}
		return procUnknown, ""
	}
	if state == 'Z' || state == 'X' {
		return procGone, ""
	}
	if start == "" {
		return procUnknown, ""
	}
	if now != start {
		return procOther, now
	}
	return procSame, now
}
