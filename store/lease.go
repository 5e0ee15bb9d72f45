package store

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Leases: mutual exclusion between processes that may run on different machines sharing
// the store over a network file system, where flock(2) cannot be relied on. See the
// package documentation ("Locks are leases") for the protocol and why each step is there.

const (
	// DefaultLeaseTimeout is how old the heartbeat of a lease must be before the lease is
	// taken to be stale, when nothing else can tell (its holder is on another machine and
	// Slurm does not report its job gone).
	DefaultLeaseTimeout = 5 * time.Minute
	// DefaultHeartbeatInterval is how often a holder renews its lease.
	DefaultHeartbeatInterval = 30 * time.Second
	// briefLeaseTimeout bounds leases held for milliseconds (the index's, and the claims
	// of breakers), which have no heartbeat.
	briefLeaseTimeout = time.Minute

	leaseFormat     = 1
	maxLeaseSize    = 64 << 10
	maxBreakDepth   = 3  // claims on claims: each level needs a breaker that died mid-break
	maxLeaseAttempt = 16 // create/judge/break rounds before TryLock calls the lease busy
)

// leaseRecord is the content of a lease file. Format 0 is the record an older dmlrun wrote
// into its flock lock file (pid, host, start only).
type leaseRecord struct {
	Format    int       `json:"lease_format,omitempty"`
	Token     string    `json:"token,omitempty"` // random: tells this lease from any other
	PID       int       `json:"pid"`
	Host      string    `json:"host"`
	Start     time.Time `json:"start"`
	ProcStart string    `json:"proc_start,omitempty"`
	BootID    string    `json:"boot_id,omitempty"`
	MachineID string    `json:"machine_id,omitempty"`
	PidNS     string    `json:"pid_ns,omitempty"`
	Slurm     *SlurmJob `json:"slurm,omitempty"`
}

// leaseState is a lease file as read: its record and its mtime (the last heartbeat).
type leaseState struct {
	rec   leaseRecord
	empty bool // an empty file: what an older dmlrun's unlock left
	mtime time.Time
	id    string // the token, or for a record without one, the file's identity
}

func (ls *leaseState) info() LockInfo {
	li := LockInfo{PID: ls.rec.PID, Host: ls.rec.Host, Start: ls.rec.Start, Heartbeat: ls.mtime}
	if ls.rec.Slurm != nil {
		li.Slurm = *ls.rec.Slurm
	}
	return li
}

// heldError says a lease is held by a live (or not provably dead) holder.
type heldError struct {
	holder LockInfo
	why    string
}

func (e *heldError) Error() string { return "held by " + e.holder.String() + ": " + e.why }

type leaseOpts struct {
	timeout   time.Duration // heartbeat age after which a holder that cannot be checked otherwise is dead
	heartbeat bool          // renew the lease until release (long holds: key locks)
	depth     int           // claim nesting (0 for the lease itself)
}

// lease is a lease this process holds.
type lease struct {
	s     *Store
	name  string // absolute path
	token string
	f     *os.File // the lease file itself, whatever name it has now: heartbeats set its mtime
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once

	mu   sync.Mutex
	lost *LeaseLostError
}

func (s *Store) leaseTimeout() time.Duration {
	if s.LeaseTimeout > 0 {
		return s.LeaseTimeout
	}
	return DefaultLeaseTimeout
}

// heartbeatInterval is at most a quarter of the timeout, so that a few missed or slow
// heartbeats (a busy file server) do not make a live holder look dead.
func (s *Store) heartbeatInterval() time.Duration {
	hb := s.HeartbeatInterval
	if hb <= 0 {
		hb = DefaultHeartbeatInterval
	}
	return min(hb, s.leaseTimeout()/4)
}

func (s *Store) briefTimeout() time.Duration { return min(briefLeaseTimeout, s.leaseTimeout()) }

func (s *Store) afterFn(d time.Duration) <-chan time.Time {
	if s.after != nil {
		return s.after(d)
	}
	return time.After(d)
}

func (s *Store) hook(point, name string, err error) {
	if s.testHook != nil {
		s.testHook(point, name, err)
	}
}

func (s *Store) relName(name string) string {
	if r, err := relIn(s.dir, name); err == nil {
		return r
	}
	return name
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails on Linux (getrandom)
	return hex.EncodeToString(b)
}

// acquire takes the lease file name, breaking a stale lease in its way. It returns a
// *heldError when a live holder (or a live breaker) has it.
func (s *Store) acquire(name string, o leaseOpts) (*lease, error) {
	var last *leaseState
	for range maxLeaseAttempt {
		// Read first: a waiter polling a held lease then costs one read, not a lease
		// written, linked and removed. The link alone decides who gets the lease.
		cur, err := s.readLease(name)
		if errors.Is(err, fs.ErrNotExist) {
			l, err := s.createLease(name, o)
			if err == nil {
				return l, nil
			}
			if !errors.Is(err, fs.ErrExist) {
				return nil, err
			}
			continue // another process linked its lease first: judge that one
		}
		if err != nil {
			return nil, err
		}
		last = cur
		stale, why := s.judge(cur, o.timeout)
		if !stale {
			return nil, &heldError{holder: cur.info(), why: why}
		}
		s.hook("break.judged", name, nil)
		if err := s.breakLease(name, cur, why, o); err != nil {
			return nil, err
		}
	}
	// Others keep taking and breaking it: call it busy, and let the caller try later.
	var holder LockInfo
	if last != nil {
		holder = last.info()
	}
	return nil, &heldError{holder: holder, why: "it changed hands too often while this process tried to take it"}
}

// createLease makes the lease file name in one step that either wholly succeeds or finds
// a lease there: the record is written to a temporary file beside it and closed, and the
// file is then hard-linked to name. link(2) fails with EEXIST when name exists, atomically on
// the file server too, and a reader never sees a half-written record. It returns an error
// satisfying errors.Is(err, fs.ErrExist) when name exists and is not this lease.
func (s *Store) createLease(name string, o leaseOpts) (*lease, error) {
	self := s.self
	rec := leaseRecord{Format: leaseFormat, Token: randomHex(16), PID: self.PID, Host: self.Host,
		Start: s.now().UTC(), ProcStart: self.ProcStart, BootID: self.BootID, MachineID: self.MachineID, PidNS: self.PidNS, Slurm: self.Slurm}
	data, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	tmp := name + ".new-" + rec.Token[:16]
	f, err := openIn(s.dir, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("take lease %s: %w", name, err)
	}
	_, err = f.Write(append(data, '\n'))
	// Close, not fsync: on NFS closing writes the record back to the server, so that a
	// client that opens the lease after the link reads it (close-to-open); Lustre and
	// GPFS are coherent anyway. Durability is not needed: a lease does not outlive a
	// crash of its machine (a lease left empty by one is stale, and so is one from an
	// earlier boot), and an fsync would cost every node of every apply milliseconds.
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// The descriptor heartbeats go through, whatever the lease's name becomes.
		f, err = openIn(s.dir, tmp, unix.O_RDONLY|unix.O_NONBLOCK, 0)
		if err == nil {
			// The heartbeat clock, not the file server's: readers compare it with theirs.
			if err = setMtime(f, s.now()); err != nil {
				f.Close()
			}
		}
	}
	if err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("take lease %s: %w", name, err)
	}
	err = unix.Linkat(unix.AT_FDCWD, tmp, unix.AT_FDCWD, name, 0)
	if errors.Is(err, unix.EEXIST) {
		// Over NFS a retransmitted LINK whose first reply was lost answers EEXIST
		// although it succeeded: the record at name tells.
		if cur, rerr := s.readLease(name); rerr == nil && cur.rec.Token == rec.Token {
			err = nil
		}
	}
	os.Remove(tmp)
	if err != nil {
		f.Close()
		switch {
		case errors.Is(err, unix.EEXIST):
			return nil, &fs.PathError{Op: "take lease", Path: name, Err: fs.ErrExist}
		case errors.Is(err, unix.EPERM), errors.Is(err, unix.EOPNOTSUPP):
			return nil, fmt.Errorf("take lease %s: the file system under %s does not support hard links (%v), which the store's leases need; put the store on a local disk, NFSv4, Lustre or GPFS", name, s.dir, err)
		}
		return nil, fmt.Errorf("take lease %s: %w", name, err)
	}
	l := &lease{s: s, name: name, token: rec.Token, f: f}
	s.leasesMu.Lock()
	if s.leases == nil {
		s.leases = map[string]*lease{}
	}
	s.leases[name] = l
	s.leasesMu.Unlock()
	if o.heartbeat {
		l.stop, l.done = make(chan struct{}), make(chan struct{})
		go l.beat(s.heartbeatInterval())
	}
	return l, nil
}

func setMtime(f *os.File, t time.Time) error {
	tv := unix.NsecToTimeval(t.UnixNano())
	return unix.Futimes(int(f.Fd()), []unix.Timeval{tv, tv})
}

// readLease reads the lease file name without following a link. A name that is not a
// regular file, or a file that holds no lease record, is an error that names it and the
// fix; a missing one satisfies errors.Is(err, fs.ErrNotExist). Opening the file (not only
// stat-ing it) matters on NFS: close-to-open consistency revalidates its attributes, so
// the mtime read is the server's, not a cached one.
func (s *Store) readLease(name string) (*leaseState, error) {
	f, err := openIn(s.dir, name, unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		var le *LinkError
		if errors.As(err, &le) {
			return nil, fmt.Errorf("%w: remove it (rm %s); the store makes its own lock files", err, name)
		}
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is %s, not a lock file; remove it and try again", name, describeMode(fi.Mode()))
	}
	b, err := io.ReadAll(io.LimitReader(f, maxLeaseSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	ls := &leaseState{mtime: fi.ModTime()}
	var dev, ino, nlink uint64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		dev, ino, nlink = st.Dev, st.Ino, st.Nlink
	}
	fileID := fmt.Sprintf("file-%d-%d-%d-%d", dev, ino, fi.Size(), fi.ModTime().UnixNano())
	switch {
	case len(bytes.Trim(b, "\x00")) == 0: // a crash can leave NULs where data was not written back
		ls.empty, ls.id = true, fileID
		return ls, nil
	case len(b) > maxLeaseSize || json.Unmarshal(b, &ls.rec) != nil || ls.rec.PID == 0 && ls.rec.Token == "":
		if nlink > 1 {
			return nil, fmt.Errorf("%s has %d hard links and holds no lock record, so it is not the store's lock file; remove it (rm %s) and try again", name, nlink, name)
		}
		return nil, fmt.Errorf("%s holds no lock record dmlrun wrote; if no dmlrun uses it, remove it (rm %s) and try again", name, name)
	}
	// A lease has a second name only for the moment between link and unlink in
	// createLease; what counts is its record, which is never written through.
	if ls.rec.Token != "" {
		ls.id = "token-" + ls.rec.Token
	} else {
		ls.id = fileID
	}
	return ls, nil
}

// sameMachine reports whether a lease was taken on this machine, in this boot and this
// pid namespace: only then do its pid and start time name a process this process can
// look up. A host name alone is not enough (containers and clones share names).
func (s *Store) sameMachine(r leaseRecord) bool {
	if r.Host != s.self.Host {
		return false
	}
	if r.Format == 0 { // older dmlrun: the host is all it recorded
		return true
	}
	return r.BootID == s.self.BootID && r.MachineID == s.self.MachineID && r.PidNS == s.self.PidNS
}

// judge decides whether a lease is stale, and says why (or why it is held).
func (s *Store) judge(ls *leaseState, timeout time.Duration) (stale bool, why string) {
	if ls.empty {
		return true, "the lock file is empty, as an older dmlrun left lock files when it released them (or a crash left it)"
	}
	r := ls.rec
	if r.Host == s.self.Host && r.MachineID != "" && r.MachineID == s.self.MachineID && r.BootID != "" && r.BootID != s.self.BootID {
		return true, fmt.Sprintf("%s was restarted since the lease was taken (its boot id changed)", r.Host)
	}
	if s.sameMachine(r) {
		switch v, now := checkProc(r.PID, r.ProcStart); v {
		case procGone:
			return true, fmt.Sprintf("pid %d is no longer running on %s", r.PID, r.Host)
		case procOther:
			return true, fmt.Sprintf("pid %d on %s is another process now (started at tick %s after boot; the holder started at tick %s)", r.PID, r.Host, now, r.ProcStart)
		case procSame:
			return false, "its process is running on this machine"
		}
	}
	if j := r.Slurm; j != nil && j.ID != "" {
		if own := s.self.Slurm; own != nil && own.ID == j.ID && own.Cluster == j.Cluster && own.Restarts > j.Restarts {
			// Slurm ends every process of a job before it runs the job again.
			return true, fmt.Sprintf("it was taken by run %d of Slurm job %s, and this process is run %d of that job", j.Restarts, j, own.Restarts)
		}
		if s.JobAlive != nil && s.JobAlive(*j) == JobGone {
			return true, fmt.Sprintf("Slurm job %s is no longer running", j)
		}
	}
	age := s.now().Sub(ls.mtime)
	if age > timeout {
		return true, fmt.Sprintf("its last heartbeat was %s ago, and a holder that cannot be checked otherwise is taken to be dead after %s", age.Round(time.Second), timeout)
	}
	return false, fmt.Sprintf("its last heartbeat was %s ago; it is taken to be stale after %s", max(age, 0).Round(time.Second), timeout)
}

// breakLease removes the stale lease cur from name, so that the caller can create its own.
// Several processes, on several machines, may judge the same lease stale at once; they
// must not remove a lease that one of them has just created in its place. So:
//
//  1. A breaker first takes a claim on this very lease: the lease file
//     name.break-<hash of cur's token>, created exclusively like any lease. Only one
//     breaker at a time holds it; the others report the lease busy and retry later.
//  2. Under the claim it reads name again: if it holds another lease now (or none), the
//     stale one is already gone and the caller starts over.
//  3. It renames name to a unique name.broken-<random> and reads what it moved: if that
//     is cur, it deletes it. A new lease can only have appeared at name if cur's holder
//     was alive after all and released it; then what was moved is put back with link(2),
//     which fails rather than replace a lease created there meanwhile.
//
// A claim left by a breaker that died is itself stale (by pid, Slurm or age) and broken
// the same way, one level down.
func (s *Store) breakLease(name string, cur *leaseState, why string, o leaseOpts) error {
	if o.depth >= maxBreakDepth {
		return fmt.Errorf("break stale lease %s: %d processes died while breaking it; once no dmlrun uses this store, remove %s and the %s.break-* files", name, maxBreakDepth, name, filepath.Base(name))
	}
	sum := sha256.Sum256([]byte(cur.id))
	claim, err := s.acquire(name+".break-"+hex.EncodeToString(sum[:8]), leaseOpts{timeout: s.briefTimeout(), depth: o.depth + 1})
	if err != nil {
		var he *heldError
		if errors.As(err, &he) {
			return &heldError{holder: cur.info(), why: "its lease is stale (" + why + ") and " + he.holder.String() + " is breaking it"}
		}
		return fmt.Errorf("break stale lease %s: %w", name, err)
	}
	defer claim.release()
	s.hook("break.claimed", name, nil)
	again, err := s.readLease(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if again.id != cur.id {
		return nil
	}
	s.hook("break.checked", name, nil)
	aside := name + ".broken-" + randomHex(8)
	if err := os.Rename(name, aside); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("break stale lease %s: %w", name, err)
	}
	moved, err := s.readLease(aside)
	if err == nil && moved.id == cur.id {
		os.Remove(aside)
		if s.OnBreak != nil {
			s.OnBreak(s.relName(name), cur.info(), why)
		}
		return nil
	}
	// Not the lease judged stale: give it back. If yet another lease appeared at name,
	// the one moved is lost to its holder, whose heartbeat and Commit notice.
	if lerr := unix.Linkat(unix.AT_FDCWD, aside, unix.AT_FDCWD, name, 0); lerr != nil && !errors.Is(lerr, unix.EEXIST) {
		return fmt.Errorf("break stale lease %s: put back the live lease moved to %s: %w", name, aside, lerr)
	}
	os.Remove(aside)
	s.hook("break.restored", name, nil)
	return nil
}

// beat renews the lease every interval until release, and stops when the lease is lost.
func (l *lease) beat(interval time.Duration) {
	defer close(l.done)
	for {
		select {
		case <-l.stop:
			return
		case <-l.s.afterFn(interval):
		}
		err := l.renew()
		l.s.hook("heartbeat", l.name, err)
		var lost *LeaseLostError
		if errors.As(err, &lost) {
			return
		}
	}
}

// renew sets the lease file's mtime to now, after checking that name still holds this
// lease. A read error is not a loss: the next heartbeat tries again.
func (l *lease) renew() error {
	if err := l.check(); err != nil {
		return err
	}
	return setMtime(l.f, l.s.now())
}

// check reads the lease file and reports a *LeaseLostError when it holds another lease
// or none.
func (l *lease) check() error {
	l.mu.Lock()
	lost := l.lost
	l.mu.Unlock()
	if lost != nil {
		return lost
	}
	cur, err := l.s.readLease(l.name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		lost = &LeaseLostError{Lease: l.s.relName(l.name)}
	case err != nil:
		return fmt.Errorf("check lease %s: %w", l.name, err)
	case cur.rec.Token != l.token:
		lost = &LeaseLostError{Lease: l.s.relName(l.name), Holder: cur.info()}
	default:
		return nil
	}
	l.mu.Lock()
	if l.lost == nil {
		l.lost = lost
	}
	lost = l.lost
	l.mu.Unlock()
	return lost
}

// release stops the heartbeat and removes the lease file if it still holds this lease.
// It is idempotent.
func (l *lease) release() {
	l.once.Do(func() {
		if l.stop != nil {
			close(l.stop)
			<-l.done
		}
		l.s.leasesMu.Lock()
		if l.s.leases[l.name] == l {
			delete(l.s.leases, l.name)
		}
		l.s.leasesMu.Unlock()
		// Check, then unlink: between the two only a breaker could replace the lease,
		// and it breaks only leases whose holder looks dead, which this one is not.
		if l.check() == nil {
			os.Remove(l.name)
		}
		l.f.Close()
	})
}

func (s *Store) heldLease(name string) *lease {
	s.leasesMu.Lock()
	defer s.leasesMu.Unlock()
	return s.leases[name]
}
