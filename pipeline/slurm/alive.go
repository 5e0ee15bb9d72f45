package slurm

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"time"

	"dmlrun/store"
)

// Liveness answers the store's question "is the Slurm job that took this lease still
// running?" (store.Store.JobAlive), so that a lease left by a job that was cancelled,
// preempted or killed on another machine is broken at once instead of after the lease
// timeout. It asks squeue about one job at a time (squeue -j refuses a whole list when one
// id of it is unknown), at most once per job per TTL, and answers conservatively:
//
//   - JobGone only from a squeue call made during the question itself, after the caller
//     read the lease (a remembered "gone" could be a job that has since been requeued and
//     runs again): squeue does not know the job any more, or it is in a terminal state, or
//     pending again (requeued, so the run that took the lease has ended);
//   - JobRunning for the TTL after squeue said so (a stale "running" only delays breaking);
//   - JobUnknown when squeue cannot be asked, when the job is from another cluster, or when
//     the job was asked about within the TTL and was not running then (the store then
//     judges by the lease's heartbeat, as without Liveness).
type Liveness struct {
	Commands *Commands
	TTL      time.Duration
	// Cluster is this cluster's name (SLURM_CLUSTER_NAME in a job); "" asks scontrol once.
	Cluster string
	Now     func() time.Time

	mu          sync.Mutex
	asked       map[string]livenessEntry
	clusterDone bool
}

type livenessEntry struct {
	at    time.Time
	state store.JobState
}

// JobAlive is the store.Store.JobAlive function.
func (l *Liveness) JobAlive(j store.SlurmJob) store.JobState {
	if j.ID == "" {
		return store.JobUnknown
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if j.Cluster != "" && j.Cluster != l.cluster() {
		return store.JobUnknown
	}
	now := l.now()
	if e, ok := l.asked[j.ID]; ok && now.Sub(e.at) < l.TTL {
		if e.state == store.JobRunning {
			return store.JobRunning
		}
		return store.JobUnknown
	}
	state := l.ask(j.ID)
	if l.asked == nil {
		l.asked = map[string]livenessEntry{}
	}
	l.asked[j.ID] = livenessEntry{at: now, state: state}
	return state
}

// ask runs one `squeue -h -t all -j ID -o %T`.
func (l *Liveness) ask(id string) store.JobState {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := l.Commands.run(ctx, "squeue", "-h", "-t", "all", "-j", id, "-o", "%T")
	var ce *CommandError
	switch {
	case errors.As(err, &ce) && strings.Contains(strings.ToLower(ce.Stderr), "invalid job id"):
		return store.JobGone // no longer known to Slurm (older than MinJobAge)
	case err != nil:
		return store.JobUnknown
	}
	states := strings.Fields(string(out))
	if len(states) == 0 {
		return store.JobGone // known to no state squeue lists
	}
	for _, s := range states {
		if !Terminal(s) && s != "PENDING" && s != "REQUEUED" && s != "REQUEUE_HOLD" && s != "REQUEUE_FED" {
			return store.JobRunning // RUNNING, COMPLETING, SUSPENDED, STOPPED, ...
		}
	}
	return store.JobGone
}

// cluster returns this cluster's name, asking `scontrol show config` once; "" when it
// cannot be told (then leases that name a cluster are JobUnknown).
func (l *Liveness) cluster() string {
	if l.Cluster != "" || l.clusterDone {
		return l.Cluster
	}
	l.clusterDone = true
	if c := os.Getenv("SLURM_CLUSTER_NAME"); c != "" {
		l.Cluster = c
		return c
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := l.Commands.run(ctx, "scontrol", "show", "config")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if ok && strings.TrimSpace(k) == "ClusterName" {
			l.Cluster = strings.TrimSpace(v)
		}
	}
	return l.Cluster
}

func (l *Liveness) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}
