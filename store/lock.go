package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"dmlrun/internal/failpoint"

	"golang.org/x/sys/unix"
)

// LockInfo is what a lock file records about its holder.
type LockInfo struct {
	PID   int       `json:"pid"`
	Host  string    `json:"host"`
	Start time.Time `json:"start"`
}

func (li LockInfo) String() string {
	if li.PID == 0 {
		return "an unknown process"
	}
	return fmt.Sprintf("pid %d on %s since %s", li.PID, li.Host, li.Start.Format(time.RFC3339))
}

// LockedError is returned by TryLock when another holder has the key.
type LockedError struct {
	Key    string
	Holder LockInfo
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("key %s is locked by %s", short(e.Key), e.Holder)
}

// LockPollInterval is how often Lock retries a held lock.
var LockPollInterval = 50 * time.Millisecond

func (s *Store) lockPath(key string) string { return filepath.Join(s.dir, "locks", key+".lock") }

// TryLock takes the key's lock without waiting. It returns the unlock function, or a
// *LockedError naming the holder. Locks are flock(2) locks on locks/<key>.lock: the kernel
// releases them when the holding process dies, so a crash never leaves a stale lock; the
// recorded PID, host and time only explain waits.
//
// The lock excludes other processes and other TryLock/Lock calls in this process alike
// (each call opens its own file description). The lock file is opened without following
// links and must be a regular file with no other name: a symbolic or hard link there is
// refused with an error naming it, never written through.
func (s *Store) TryLock(key string) (unlock func(), err error) {
	if !ValidKey(key) {
		return nil, fmt.Errorf("lock: invalid key %q", key)
	}
	name := s.lockPath(key)
	var f *os.File
	for {
		var err error
		f, err = openLockFile(s.dir, name)
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", short(key), err)
		}
		if s.lockOpened != nil {
			s.lockOpened()
		}
		for {
			err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
			if !errors.Is(err, unix.EINTR) {
				break
			}
		}
		if err != nil {
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				return nil, &LockedError{Key: key, Holder: s.readLockInfo(name)}
			}
			return nil, fmt.Errorf("lock %s: flock: %w", short(key), err)
		}
		// Remove deletes lock files (under the lock). If that happened between our open
		// and flock, we hold a lock on a file nobody else will see: try the path again.
		held, err1 := f.Stat()
		now, err2 := os.Lstat(name)
		if err1 == nil && err2 == nil && os.SameFile(held, now) {
			break
		}
		_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}
	info, _ := json.Marshal(LockInfo{PID: os.Getpid(), Host: s.host, Start: s.now()})
	// The record is advisory; failing to write it does not make the lock less held.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt(append(info, '\n'), 0)
	}
	unlock = func() {
		_ = f.Truncate(0)
		_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}
	if err := failpoint.Inject("store.lock"); err != nil {
		unlock()
		return nil, fmt.Errorf("lock %s: %w", short(key), err)
	}
	return unlock, nil
}

// openLockFile opens (creating) a lock file without following a link, and checks that it
// is the store's own: a regular file with one name. Truncating a link's target, or a
// hard link to a file elsewhere, would destroy that file (the lock record is rewritten on
// every lock and unlock).
func openLockFile(root, name string) (*os.File, error) {
	f, err := openIn(root, name, unix.O_RDWR|unix.O_CREAT|unix.O_NONBLOCK, 0o644)
	if err != nil {
		var le *LinkError
		if errors.As(err, &le) {
			return nil, fmt.Errorf("%w: remove it (rm %s); the store makes a new lock file", err, name)
		}
		if errors.Is(err, unix.EISDIR) {
			return nil, fmt.Errorf("%s is a directory, not a lock file; remove it and try again", name)
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat %s: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is %s, not a lock file; remove it and try again", name, describeMode(fi.Mode()))
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
		f.Close()
		return nil, fmt.Errorf("%s has %d hard links, so it is not only the store's lock file and locking would overwrite it; remove it (rm %s) and try again", name, st.Nlink, name)
	}
	return f, nil
}

// Lock takes the key's lock, waiting while another holder has it. onWait, if not nil, is
// called once when the first attempt finds the lock held, with the holder's record. Lock
// gives up when ctx is done and returns ctx's error.
func (s *Store) Lock(ctx context.Context, key string, onWait func(LockInfo)) (unlock func(), err error) {
	waited := false
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
		case <-time.After(LockPollInterval):
		}
	}
}

func (s *Store) readLockInfo(name string) LockInfo {
	var li LockInfo
	if b, err := readIn(s.dir, name); err == nil {
		_ = json.Unmarshal(b, &li)
	}
	return li
}

func short(key string) string {
	if len(key) > 12 {
		return key[:12]
	}
	return key
}
