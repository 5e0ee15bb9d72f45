package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"dmlrun/internal/failpoint"
)

// LockInfo is what a lease records about its holder.
type LockInfo struct {
	PID   int       `json:"pid"`
	Host  string    `json:"host"`
	Start time.Time `json:"start"` // when the lease was taken (the holder's clock)
	// Slurm is the job the holder ran in; its ID is "" outside Slurm.
	Slurm SlurmJob `json:"slurm,omitzero"`
	// Heartbeat is when the holder last renewed the lease (the lease file's mtime, set
	// from the holder's clock); zero when not known.
	Heartbeat time.Time `json:"heartbeat,omitzero"`
}

// String is how waits and errors name a holder: "pid 4242 on gpu07 since
// 2026-01-02T03:04:05Z", with "(Slurm job 81234_3)" after the host under Slurm.
func (li LockInfo) String() string {
	if li.PID == 0 {
		return "an unknown process"
	}
	job := ""
	if li.Slurm.ID != "" {
		job = " (Slurm job " + li.Slurm.String() + ")"
	}
	return fmt.Sprintf("pid %d on %s%s since %s", li.PID, li.Host, job, li.Start.Format(time.RFC3339))
}

// SlurmJob names the Slurm job a lease holder ran in, from the variables Slurm sets in the
// job's environment.
type SlurmJob struct {
	ID        string `json:"job_id"`                  // SLURM_JOB_ID: the job's own id (an array task has its own too)
	ArrayJob  string `json:"array_job_id,omitempty"`  // SLURM_ARRAY_JOB_ID
	ArrayTask string `json:"array_task_id,omitempty"` // SLURM_ARRAY_TASK_ID
	Cluster   string `json:"cluster,omitempty"`       // SLURM_CLUSTER_NAME: job ids are only unique within one cluster
	Restarts  int    `json:"restarts,omitempty"`      // SLURM_RESTART_COUNT: how often the job was requeued before this run
}

// String is "81234" for a plain job and "81234_3" for an array task (the form squeue
// prints and accepts).
func (j SlurmJob) String() string {
	if j.ArrayJob != "" && j.ArrayTask != "" {
		return j.ArrayJob + "_" + j.ArrayTask
	}
	return j.ID
}

// JobState is what a Store.JobAlive function knows about the Slurm job named in a lease.
type JobState int

const (
	// JobUnknown: Slurm could not be asked, or does not answer for this job's cluster.
	JobUnknown JobState = iota
	// JobRunning: the job is known and the run that took the lease may still be running.
	JobRunning
	// JobGone: the run that took the lease has certainly ended: the job is finished,
	// cancelled or no longer known to Slurm, or it is pending again or was requeued
	// since (Restarts in Slurm is above the lease's).
	JobGone
)

func (s JobState) String() string {
	switch s {
	case JobRunning:
		return "running"
	case JobGone:
		return "gone"
	}
	return "unknown"
}

// LockedError is returned by TryLock when another holder has the key.
type LockedError struct {
	Key    string
	Holder LockInfo
	// Why the holder's lease is not taken to be stale ("its process runs on this
	// machine", "its last heartbeat was 12s ago; stale after 5m0s").
	Why string
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("key %s is locked by %s", short(e.Key), e.Holder)
}

// LeaseLostError says that a lease this process took was broken by another process,
// which judged it stale (its heartbeat stopped for longer than the timeout, or Slurm
// reported its job gone). Another process may be computing the same key: the holder must
// not commit. Commit refuses with this error; CheckLock returns it.
type LeaseLostError struct {
	Lease  string   // the lease file, relative to the store root
	Holder LockInfo // who holds it now (PID 0 when nobody does)
}

func (e *LeaseLostError) Error() string {
	now := "nobody holds it now"
	if e.Holder.PID != 0 {
		now = "it is held by " + e.Holder.String() + " now"
	}
	return fmt.Sprintf("lease %s was broken by another process that took it to be stale (%s); "+
		"this process stopped renewing it for longer than the lease timeout, or Slurm reported its job gone", e.Lease, now)
}

// LockPollInterval is how long Lock first waits before it retries a held lock; the wait
// doubles up to lockPollMax, so that many waiters on a network file system do not
// flood its server.
var LockPollInterval = 50 * time.Millisecond

const lockPollMax = time.Second

func (s *Store) lockPath(key string) string { return filepath.Join(s.dir, "locks", key+".lock") }

// TryLock takes the key's lock without waiting. It returns the unlock function, or a
// *LockedError naming the holder.
//
// The lock is a lease: the file locks/<key>.lock, created exclusively, that names this
// process (host, pid, process start time, boot, pid namespace and Slurm job, from the
// environment) and whose mtime the holder renews every HeartbeatInterval until unlock
// removes it. A lease left by a dead holder is stale and is broken and taken over (see
// the package documentation for when a lease is stale and how it is broken); so a crash
// leaves no lock behind, on one machine or several sharing the store.
//
// The lock excludes other processes and other TryLock/Lock calls in this process alike.
// A symbolic link, directory, FIFO or foreign file at the lease's path is refused with an
// error naming it, never read through or written.
func (s *Store) TryLock(key string) (unlock func(), err error) {
	if !ValidKey(key) {
		return nil, fmt.Errorf("lock: invalid key %q", key)
	}
	if err := s.ownDir("locks"); err != nil {
		return nil, fmt.Errorf("lock %s: %w", short(key), err)
	}
	l, err := s.acquire(s.lockPath(key), leaseOpts{timeout: s.leaseTimeout(), heartbeat: true})
	if err != nil {
		var he *heldError
		if errors.As(err, &he) {
			return nil, &LockedError{Key: key, Holder: he.holder, Why: he.why}
		}
		return nil, fmt.Errorf("lock %s: %w", short(key), err)
	}
	if err := failpoint.Inject("store.lock"); err != nil {
		l.release()
		return nil, fmt.Errorf("lock %s: %w", short(key), err)
	}
	return l.release, nil
}

// Lock takes the key's lock, waiting while another holder has it. onWait, if not nil, is
// called once when the first attempt finds the lock held, with the holder's record. Each
// retry re-judges the holder's lease, so a holder that dies while Lock waits is taken
// over. Lock gives up when ctx is done and returns ctx's error.
func (s *Store) Lock(ctx context.Context, key string, onWait func(LockInfo)) (unlock func(), err error) {
	waited := false
	delay := LockPollInterval
	for {
		unlock, err := s.TryLock(key)
		var le *LockedError
		if !errors.As(err, &le) {
			return unlock, err
		}
		if !waited && onWait != nil {
			onWait(le.Holder)
		}
		waited = true
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for lock on %s (held by %s): %w", short(key), le.Holder, ctx.Err())
		case <-s.afterFn(delay):
		}
		delay = min(2*delay, max(lockPollMax, LockPollInterval))
	}
}

// LockHolder reports who holds key's lock, without taking it: held is false when nobody
// does (no lease, or a stale one, which the next TryLock breaks). It reads the lease file
// and judges it as TryLock does (JobAlive included) but changes nothing, so it costs one
// read where a TryLock-and-unlock probe writes, links and removes a lease: for schedulers
// and status displays that poll many keys. why says why the lease counts as held.
func (s *Store) LockHolder(key string) (holder LockInfo, why string, held bool, err error) {
	if !ValidKey(key) {
		return LockInfo{}, "", false, fmt.Errorf("lock holder: invalid key %q", key)
	}
	ls, err := s.readLease(s.lockPath(key))
	if errors.Is(err, fs.ErrNotExist) {
		return LockInfo{}, "", false, nil
	}
	if err != nil {
		return LockInfo{}, "", false, fmt.Errorf("lock holder %s: %w", short(key), err)
	}
	stale, why := s.judge(ls, s.leaseTimeout())
	if stale {
		return ls.info(), why, false, nil
	}
	return ls.info(), why, true, nil
}

// CheckLock reports whether this Store still holds key's lock: nil when it does, a
// *LeaseLostError when another process broke the lease, another error when this Store
// does not hold it. It reads the lease file now. A long-running holder may call it
// between phases to stop early; Commit calls it before renaming the artifact into place.
func (s *Store) CheckLock(key string) error {
	if !ValidKey(key) {
		return fmt.Errorf("check lock: invalid key %q", key)
	}
	l := s.heldLease(s.lockPath(key))
	if l == nil {
		return fmt.Errorf("check lock %s: this store does not hold it (TryLock or Lock first)", short(key))
	}
	return l.check()
}

func short(key string) string {
	if len(key) > 12 {
		return key[:12]
	}
	return key
}
