package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Lease tests run several Store values in one process, each made to look like a process
// on its own machine (another host name), with fake clocks: nothing here sleeps or
// depends on timing. Tests with real processes are in lease_process_test.go.

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// deadPID is above the largest pid Linux can hand out (PID_MAX_LIMIT, 2^22), so no
// process ever has it.
const deadPID = 1<<22 + 1

// fakeClock drives Store.Now and the store's timers. After registers a timer that fires
// when Advance moves the clock past it; BlockUntil waits until goroutines have
// registered timers, so that a test advances the clock only once they wait on it.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []fakeTimer
	changed chan struct{}
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{now: t, changed: make(chan struct{})} }

func (c *fakeClock) use(s *Store) { s.Now, s.after = c.Now, c.After }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.timers = append(c.timers, fakeTimer{c.now.Add(d), ch})
	close(c.changed)
	c.changed = make(chan struct{})
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.timers[:0]
	for _, tm := range c.timers {
		if tm.at.After(c.now) {
			keep = append(keep, tm)
		} else {
			tm.ch <- c.now
		}
	}
	c.timers = keep
	close(c.changed)
	c.changed = make(chan struct{})
}

// BlockUntil returns once n timers are pending.
func (c *fakeClock) BlockUntil(n int) {
	for {
		c.mu.Lock()
		if len(c.timers) >= n {
			c.mu.Unlock()
			return
		}
		ch := c.changed
		c.mu.Unlock()
		<-ch
	}
}

// pending returns a channel closed once n timers are pending.
func (c *fakeClock) pending(n int) <-chan struct{} {
	ch := make(chan struct{})
	go func() { c.BlockUntil(n); close(ch) }()
	return ch
}

// openAs opens the store at dir as a process on host (the real host keeps this
// machine's identity, so its leases are checked by pid), with the clock fixed at t0.
func openAs(t *testing.T, dir, host string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		s.host, s.self.Host = host, host
	}
	s.Now = func() time.Time { return t0 }
	return s
}

// plantLease writes a lease record at name as another process would have left it.
func plantLease(t *testing.T, name string, rec any, mtime time.Time) {
	t.Helper()
	var b []byte
	switch r := rec.(type) {
	case string:
		b = []byte(r)
	default:
		var err error
		if b, err = json.Marshal(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(name, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// localRecord is a lease record as a process on this machine writes it.
func localRecord(s *Store, pid int, procStart string) leaseRecord {
	return leaseRecord{Format: leaseFormat, Token: randomHex(16), PID: pid, Host: s.self.Host, Start: t0,
		ProcStart: procStart, BootID: s.self.BootID, MachineID: s.self.MachineID, PidNS: s.self.PidNS}
}

func remoteRecord(host string, job *SlurmJob) leaseRecord {
	return leaseRecord{Format: leaseFormat, Token: randomHex(16), PID: 4242, Host: host, Start: t0,
		ProcStart: "777", BootID: "boot-of-" + host, PidNS: "pid:[4026531836]", Slurm: job}
}

func lockNames(t *testing.T, s *Store) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(s.Dir(), "locks"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestLeaseRecord(t *testing.T) {
	s := openTest(t)
	env := map[string]string{"SLURM_JOB_ID": "81234", "SLURM_ARRAY_JOB_ID": "81230", "SLURM_ARRAY_TASK_ID": "4",
		"SLURM_CLUSTER_NAME": "lab", "SLURM_RESTART_COUNT": "2"}
	s.self.Slurm = slurmFromEnv(func(k string) string { return env[k] })
	key := testKey("record")
	unlock, err := s.TryLock(key)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	b, err := os.ReadFile(s.lockPath(key))
	if err != nil {
		t.Fatal(err)
	}
	var rec leaseRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	_, start, err := readProcStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	boot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	ns, _ := os.Readlink("/proc/self/ns/pid")
	want := leaseRecord{Format: 1, Token: rec.Token, PID: os.Getpid(), Host: s.Host(), Start: t0, ProcStart: start,
		BootID: strings.TrimSpace(string(boot)), MachineID: s.self.MachineID, PidNS: ns,
		Slurm: &SlurmJob{ID: "81234", ArrayJob: "81230", ArrayTask: "4", Cluster: "lab", Restarts: 2}}
	if len(rec.Token) != 32 || !rec.Start.Equal(want.Start) || rec.Slurm == nil || *rec.Slurm != *want.Slurm {
		t.Errorf("record %+v\nwant %+v", rec, want)
	}
	rec.Start, want.Start, rec.Slurm, want.Slurm = time.Time{}, time.Time{}, nil, nil
	if rec != want {
		t.Errorf("record %+v\nwant %+v", rec, want)
	}
	if fi, err := os.Stat(s.lockPath(key)); err != nil || !fi.ModTime().Equal(t0) {
		t.Errorf("lease mtime (first heartbeat) = %v, %v; want the store clock's %v", fi.ModTime(), err, t0)
	}
	if names := lockNames(t, s); !slices.Equal(names, []string{key + ".lock"}) {
		t.Errorf("locks/ = %v, want only the lease (its temporary name removed)", names)
	}

	_, err = s.TryLock(key)
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("second TryLock = %v, want LockedError", err)
	}
	wantMsg := fmt.Sprintf("key %s is locked by pid %d on %s (Slurm job 81230_4) since 2026-01-02T03:04:05Z", key[:12], os.Getpid(), s.Host())
	if err.Error() != wantMsg || le.Why != "its process is running on this machine" || !le.Holder.Heartbeat.Equal(t0) {
		t.Errorf("LockedError = %q (why %q, heartbeat %v)\nwant %q", err, le.Why, le.Holder.Heartbeat, wantMsg)
	}
}

// LockHolder judges like TryLock and changes nothing.
func TestLockHolder(t *testing.T) {
	s := openTest(t)
	key := testKey("holder")
	if _, _, held, err := s.LockHolder(key); held || err != nil {
		t.Errorf("no lease: held=%v err=%v", held, err)
	}
	unlock, err := s.TryLock(key)
	if err != nil {
		t.Fatal(err)
	}
	if h, why, held, err := s.LockHolder(key); !held || err != nil || h.PID != os.Getpid() || why != "its process is running on this machine" {
		t.Errorf("held lease: %+v %q held=%v err=%v", h, why, held, err)
	}
	unlock()
	plantLease(t, s.lockPath(key), localRecord(s, deadPID, "1"), t0)
	if h, why, held, err := s.LockHolder(key); held || err != nil || h.PID != deadPID || !strings.Contains(why, "is no longer running") {
		t.Errorf("stale lease: %+v %q held=%v err=%v", h, why, held, err)
	}
	if _, err := os.Stat(s.lockPath(key)); err != nil {
		t.Errorf("LockHolder removed the stale lease: %v", err)
	}
	os.Remove(s.lockPath(key))
	os.Symlink("/etc/passwd", s.lockPath(key))
	if _, _, _, err := s.LockHolder(key); err == nil || !strings.Contains(err.Error(), "is a symbolic link") {
		t.Errorf("linked lease: %v", err)
	}
}

func TestLockInfoString(t *testing.T) {
	cases := []struct {
		name string
		info LockInfo
		want string
	}{
		{"unknown", LockInfo{}, "an unknown process"},
		{"no Slurm", LockInfo{PID: 7, Host: "laptop", Start: t0}, "pid 7 on laptop since 2026-01-02T03:04:05Z"},
		{"Slurm job", LockInfo{PID: 7, Host: "gpu07", Start: t0, Slurm: SlurmJob{ID: "81234"}}, "pid 7 on gpu07 (Slurm job 81234) since 2026-01-02T03:04:05Z"},
		{"array task", LockInfo{PID: 7, Host: "gpu07", Start: t0, Slurm: SlurmJob{ID: "81234", ArrayJob: "81230", ArrayTask: "4"}}, "pid 7 on gpu07 (Slurm job 81230_4) since 2026-01-02T03:04:05Z"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.info.String(); got != tc.want {
				t.Errorf("%q, want %q", got, tc.want)
			}
		})
	}
}

// When a lease is stale, for every holder a lease can name.
func TestLeaseStaleness(t *testing.T) {
	const timeout = 5 * time.Minute
	fresh, old := t0.Add(-time.Second), t0.Add(-timeout-time.Second)
	job := func(id string, restarts int, cluster string) *SlurmJob {
		return &SlurmJob{ID: id, Restarts: restarts, Cluster: cluster}
	}
	cases := []struct {
		name    string
		lease   func(s *Store) any // a leaseRecord, or raw file content
		mtime   time.Time
		ownJob  *SlurmJob                    // the judging process's Slurm job
		jobs    map[string]JobState          // what JobAlive answers (nil: no JobAlive)
		stale   string                       // part of why it is stale ("" when it is held)
		held    string                       // part of why it is held
		failure string                       // part of the error, for what is no lease
		asked   []string                     // the jobs JobAlive must be asked about
		setup   func(t *testing.T, s *Store) // more set-up
	}{
		{name: "holder's pid gone on this machine", lease: func(s *Store) any { return localRecord(s, deadPID, "12345") }, mtime: fresh,
			stale: fmt.Sprintf("pid %d is no longer running on", deadPID)},
		{name: "pid reused by another process", lease: func(s *Store) any { return localRecord(s, os.Getpid(), s.self.ProcStart+"1") }, mtime: fresh,
			stale: fmt.Sprintf("pid %d on", os.Getpid())},
		{name: "holder running on this machine, heartbeat old", lease: func(s *Store) any { return localRecord(s, os.Getpid(), s.self.ProcStart) }, mtime: old,
			held: "its process is running on this machine"},
		{name: "this machine, earlier boot", lease: func(s *Store) any {
			r := localRecord(s, os.Getpid(), s.self.ProcStart)
			r.BootID = "earlier-boot"
			return r
		}, mtime: fresh,
			stale: "was restarted since the lease was taken (its boot id changed)"},
		{name: "this host name, other machine and boot", lease: func(s *Store) any {
			r := localRecord(s, deadPID, "1")
			r.BootID, r.MachineID = "other-boot", "other-machine"
			return r
		}, mtime: fresh, held: "its last heartbeat was 1s ago"},
		{name: "a crash left NULs", lease: func(s *Store) any { return "\x00\x00\x00" }, mtime: fresh,
			stale: "the lock file is empty"},
		{name: "this host name, other pid namespace", lease: func(s *Store) any { r := localRecord(s, deadPID, "1"); r.PidNS = "pid:[1]"; return r }, mtime: fresh,
			held: "its last heartbeat was 1s ago"},
		{name: "other host, fresh heartbeat", lease: func(s *Store) any { return remoteRecord("node-b", nil) }, mtime: fresh,
			held: "its last heartbeat was 1s ago; it is taken to be stale after 5m0s"},
		{name: "other host, heartbeat at the timeout", lease: func(s *Store) any { return remoteRecord("node-b", nil) }, mtime: t0.Add(-timeout),
			held: "its last heartbeat was 5m0s ago"},
		{name: "other host, heartbeat older than the timeout", lease: func(s *Store) any { return remoteRecord("node-b", nil) }, mtime: old,
			stale: "its last heartbeat was 5m1s ago, and a holder that cannot be checked otherwise is taken to be dead after 5m0s"},
		{name: "other host, heartbeat from the future (clock skew)", lease: func(s *Store) any { return remoteRecord("node-b", nil) }, mtime: t0.Add(time.Hour),
			held: "its last heartbeat was 0s ago"},
		{name: "Slurm job gone", lease: func(s *Store) any { return remoteRecord("node-b", job("4242", 0, "")) }, mtime: fresh,
			jobs: map[string]JobState{"4242": JobGone}, asked: []string{"4242"}, stale: "Slurm job 4242 is no longer running"},
		{name: "Slurm job running", lease: func(s *Store) any { return remoteRecord("node-b", job("4242", 0, "")) }, mtime: fresh,
			jobs: map[string]JobState{"4242": JobRunning}, asked: []string{"4242"}, held: "its last heartbeat was 1s ago"},
		{name: "Slurm job running, heartbeat older than the timeout", lease: func(s *Store) any { return remoteRecord("node-b", job("4242", 0, "")) }, mtime: old,
			jobs: map[string]JobState{"4242": JobRunning}, asked: []string{"4242"}, stale: "its last heartbeat was 5m1s ago"},
		{name: "Slurm job, no JobAlive (the default)", lease: func(s *Store) any { return remoteRecord("node-b", job("4242", 0, "")) }, mtime: fresh,
			held: "its last heartbeat was 1s ago"},
		{name: "Slurm job, JobAlive cannot tell", lease: func(s *Store) any { return remoteRecord("node-b", job("4242", 0, "")) }, mtime: fresh,
			jobs: map[string]JobState{}, asked: []string{"4242"}, held: "its last heartbeat was 1s ago"},
		{name: "Slurm job on this machine: the pid decides", lease: func(s *Store) any { r := localRecord(s, deadPID, "1"); r.Slurm = job("4242", 0, ""); return r }, mtime: fresh,
			jobs: map[string]JobState{"4242": JobRunning}, stale: "is no longer running on"},
		{name: "earlier run of this process's own requeued job", lease: func(s *Store) any { return remoteRecord("node-b", job("4242", 0, "lab")) }, mtime: fresh,
			ownJob: job("4242", 1, "lab"), stale: "it was taken by run 0 of Slurm job 4242, and this process is run 1 of that job"},
		{name: "same run of this process's own job on another node", lease: func(s *Store) any { return remoteRecord("node-b", job("4242", 1, "lab")) }, mtime: fresh,
			ownJob: job("4242", 1, "lab"), held: "its last heartbeat was 1s ago"},
		{name: "same job id on another cluster", lease: func(s *Store) any { return remoteRecord("node-b", job("4242", 0, "other")) }, mtime: fresh,
			ownJob: job("4242", 3, "lab"), held: "its last heartbeat was 1s ago"},
		{name: "empty file left by an older dmlrun", lease: func(s *Store) any { return "" }, mtime: fresh,
			stale: "the lock file is empty"},
		{name: "older dmlrun's record, pid gone", lease: func(s *Store) any {
			return fmt.Sprintf(`{"pid":%d,"host":%q,"start":"2026-01-02T03:04:05Z"}`, deadPID, s.self.Host)
		}, mtime: fresh, stale: "is no longer running on"},
		{name: "older dmlrun's record, pid alive", lease: func(s *Store) any {
			return fmt.Sprintf(`{"pid":%d,"host":%q,"start":"2026-01-02T03:04:05Z"}`, os.Getpid(), s.self.Host)
		}, mtime: fresh, held: "its last heartbeat was 1s ago"},
		{name: "newer lease format from another host", lease: func(s *Store) any { r := remoteRecord("node-b", nil); r.Format = 9; return r }, mtime: old,
			stale: "its last heartbeat was 5m1s ago"},
		{name: "not a lock record", lease: func(s *Store) any { return "notes\n" }, mtime: old,
			failure: "holds no lock record dmlrun wrote; if no dmlrun uses it, remove it (rm "},
		{name: "a JSON file that is no lock record", lease: func(s *Store) any { return `{"a":1}` }, mtime: old,
			failure: "holds no lock record dmlrun wrote"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t)
			s.self.Slurm = tc.ownJob
			var asked []string
			if tc.jobs != nil {
				s.JobAlive = func(j SlurmJob) JobState { asked = append(asked, j.ID); return tc.jobs[j.ID] }
			}
			var broke []string
			s.OnBreak = func(lease string, h LockInfo, why string) { broke = append(broke, lease+": "+why) }
			key := testKey(tc.name)
			plantLease(t, s.lockPath(key), tc.lease(s), tc.mtime)
			unlock, err := s.TryLock(key)
			var le *LockedError
			switch {
			case tc.failure != "":
				if err == nil || errors.As(err, &le) || !strings.Contains(err.Error(), tc.failure) || !strings.Contains(err.Error(), s.lockPath(key)) {
					t.Errorf("TryLock = %v, want an error naming the file and saying %q", err, tc.failure)
				}
			case tc.stale != "":
				if err != nil {
					t.Fatalf("TryLock = %v, want the stale lease taken over", err)
				}
				if len(broke) != 1 || !strings.HasPrefix(broke[0], "locks/"+key+".lock: ") || !strings.Contains(broke[0], tc.stale) {
					t.Errorf("OnBreak calls %q, want one for locks/%s.lock saying %q", broke, key[:12], tc.stale)
				}
				if err := s.CheckLock(key); err != nil {
					t.Errorf("CheckLock after the take-over: %v", err)
				}
				unlock()
			default:
				if !errors.As(err, &le) || !strings.Contains(le.Why, tc.held) {
					t.Fatalf("TryLock = %v, want LockedError whose Why says %q", err, tc.held)
				}
				if len(broke) != 0 {
					t.Errorf("OnBreak called for a held lease: %q", broke)
				}
			}
			if tc.asked != nil && !slices.Equal(asked, tc.asked) {
				t.Errorf("JobAlive asked about %v, want %v", asked, tc.asked)
			}
			if tc.stale != "" {
				if names := lockNames(t, s); len(names) != 0 {
					t.Errorf("locks/ after unlock = %v, want it empty", names)
				}
			}
		})
	}
}

// A holder renews its lease while it holds it, so a process on another machine waits
// however long that is; once the heartbeat stops for longer than the timeout, the other
// process takes the lease over, and the first one finds out: its heartbeat and CheckLock
// report the loss, its Commit refuses, and its unlock leaves the new holder's lease alone.
func TestHeartbeat(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "results")
	a, b := openAs(t, dir, "node-a"), openAs(t, dir, "node-b")
	ca, cb := newFakeClock(t0), newFakeClock(t0)
	ca.use(a)
	cb.use(b)
	a.LeaseTimeout, a.HeartbeatInterval = 4*time.Minute, time.Minute
	b.LeaseTimeout = 4 * time.Minute
	beats := make(chan error, 1)
	a.testHook = func(point, name string, err error) {
		if point == "heartbeat" {
			beats <- err
		}
	}
	var broke []string
	b.OnBreak = func(lease string, h LockInfo, why string) { broke = append(broke, why) }
	key := testKey("heartbeat")
	unlockA, err := a.TryLock(key)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 { // six minutes in all, more than the timeout
		ca.BlockUntil(1) // a's heartbeat waits for its next tick
		ca.Advance(time.Minute)
		if err := <-beats; err != nil {
			t.Fatalf("heartbeat %d: %v", i+1, err)
		}
		cb.Advance(time.Minute)
		var le *LockedError
		if _, err := b.TryLock(key); !errors.As(err, &le) || le.Why != "its last heartbeat was 0s ago; it is taken to be stale after 4m0s" {
			t.Fatalf("after %d min of heartbeats: TryLock on node-b = %v (why %q), want LockedError", i+1, err, le.Why)
		}
	}

	// a stops renewing (its clock stands still, like a hung process); b's runs on.
	cb.Advance(4*time.Minute + time.Second)
	unlockB, err := b.TryLock(key)
	if err != nil {
		t.Fatalf("TryLock on node-b after the heartbeat stopped: %v", err)
	}
	if len(broke) != 1 || broke[0] != "its last heartbeat was 4m1s ago, and a holder that cannot be checked otherwise is taken to be dead after 4m0s" {
		t.Errorf("OnBreak reasons %q", broke)
	}

	ca.BlockUntil(1)
	ca.Advance(time.Minute)
	var lost *LeaseLostError
	if err := <-beats; !errors.As(err, &lost) || lost.Holder.Host != "node-b" || lost.Lease != "locks/"+key+".lock" {
		t.Fatalf("a's next heartbeat = %v, want a LeaseLostError naming node-b", err)
	}
	if err := a.CheckLock(key); !errors.As(err, &lost) {
		t.Errorf("CheckLock on node-a = %v, want LeaseLostError", err)
	}
	txn, err := a.Begin(key, false)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(txn.Dir, "out.txt"), []byte("a's result"), 0o644)
	if _, err := txn.Commit(&Manifest{Stage: "t"}); !errors.As(err, &lost) {
		t.Errorf("Commit after the lease was lost = %v, want LeaseLostError", err)
	}
	if _, err := a.Get(key); !IsMiss(err) {
		t.Errorf("Get after the refused commit = %v, want a miss", err)
	}
	unlockA()
	if err := b.CheckLock(key); err != nil {
		t.Errorf("node-b's lease after node-a's unlock: %v", err)
	}
	unlockB()
	if names := lockNames(t, b); len(names) != 0 {
		t.Errorf("locks/ = %v, want it empty", names)
	}
}

// Lock waits (onWait names the holder and its Slurm job), re-judges the holder's lease on
// every retry, and takes it over once Slurm reports the job gone.
func TestLockWaitsUntilTheJobIsGone(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "results")
	a, b := openAs(t, dir, "node-a"), openAs(t, dir, "node-b")
	a.self.Slurm = &SlurmJob{ID: "81234", ArrayJob: "81230", ArrayTask: "4"}
	cb := newFakeClock(t0)
	cb.use(b)
	newFakeClock(t0).use(a) // a's heartbeat never fires
	a.Now = cb.Now
	var gone atomic.Bool
	var asked atomic.Int32
	b.JobAlive = func(j SlurmJob) JobState {
		asked.Add(1)
		if j.ID == "81234" && gone.Load() {
			return JobGone
		}
		return JobRunning
	}
	broke := make(chan string, 1)
	b.OnBreak = func(lease string, h LockInfo, why string) { broke <- h.String() + ": " + why }

	key := testKey("wait")
	unlockA, err := a.TryLock(key)
	if err != nil {
		t.Fatal(err)
	}
	defer unlockA()
	holders := make(chan LockInfo, 1)
	type result struct {
		unlock func()
		err    error
	}
	done := make(chan result, 1)
	go func() {
		u, err := b.Lock(context.Background(), key, func(h LockInfo) { holders <- h })
		done <- result{u, err}
	}()
	h := <-holders
	want := fmt.Sprintf("pid %d on node-a (Slurm job 81230_4) since 2026-01-02T03:04:05Z", os.Getpid())
	if h.String() != want || h.Slurm.ID != "81234" {
		t.Errorf("onWait holder %q (%+v), want %q", h, h.Slurm, want)
	}
	for range 3 { // retries while the job runs find the lease held
		cb.BlockUntil(1)
		cb.Advance(lockPollMax)
	}
	cb.BlockUntil(1)
	if n := asked.Load(); n != 4 {
		t.Errorf("JobAlive asked %d times, want once per attempt (4)", n)
	}
	gone.Store(true)
	cb.Advance(lockPollMax)
	r := <-done
	if r.err != nil {
		t.Fatalf("Lock: %v", r.err)
	}
	defer r.unlock()
	if got := <-broke; got != want+": Slurm job 81230_4 is no longer running" {
		t.Errorf("OnBreak: %q", got)
	}
	if err := b.CheckLock(key); err != nil {
		t.Errorf("CheckLock: %v", err)
	}
}

// breakers are Store values on this machine that all find one stale lease.
func breakers(t *testing.T, n int) (dir string, ss []*Store, broke *[]string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "results")
	broke = new([]string)
	var mu sync.Mutex
	for range n {
		s := openAs(t, dir, "")
		s.OnBreak = func(lease string, h LockInfo, why string) {
			mu.Lock()
			*broke = append(*broke, lease)
			mu.Unlock()
		}
		ss = append(ss, s)
	}
	return dir, ss, broke
}

// pause makes s stop at a point of the lease protocol until the returned function is
// called; reached is closed when it gets there. passed lists the points s reached.
func pause(s *Store, point string) (reached chan struct{}, resume func(), passed func() []string) {
	reached, gate := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	var points []string
	s.testHook = func(p, name string, err error) {
		mu.Lock()
		points = append(points, p)
		mu.Unlock()
		if p == point && strings.HasSuffix(name, ".lock") {
			once.Do(func() {
				close(reached)
				<-gate
			})
		}
	}
	return reached, func() { close(gate) }, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(points)
	}
}

func TestBreakersRace(t *testing.T) {
	key := testKey("race")

	t.Run("one breaker at a time", func(t *testing.T) {
		_, ss, broke := breakers(t, 2)
		plantLease(t, ss[0].lockPath(key), localRecord(ss[0], deadPID, "1"), t0)
		reached, resume, _ := pause(ss[0], "break.claimed")
		done := make(chan error, 1)
		var unlock func()
		go func() {
			var err error
			unlock, err = ss[0].TryLock(key)
			done <- err
		}()
		<-reached // the first breaker holds the claim on the stale lease
		var le *LockedError
		if _, err := ss[1].TryLock(key); !errors.As(err, &le) || le.Holder.PID != deadPID || !strings.Contains(le.Why, "is breaking it") {
			t.Fatalf("second breaker = %v (why %q), want LockedError: another process is breaking it", err, le.Why)
		}
		resume()
		if err := <-done; err != nil {
			t.Fatalf("first breaker: %v", err)
		}
		if _, err := ss[1].TryLock(key); !errors.As(err, &le) || le.Holder.PID != os.Getpid() {
			t.Errorf("second breaker after the break = %v, want the first breaker's lease held", err)
		}
		if len(*broke) != 1 {
			t.Errorf("breaks: %v, want one", *broke)
		}
		unlock()
		if names := lockNames(t, ss[0]); len(names) != 0 {
			t.Errorf("locks/ = %v", names)
		}
	})

	t.Run("a late breaker finds the lease broken and taken", func(t *testing.T) {
		_, ss, broke := breakers(t, 2)
		plantLease(t, ss[0].lockPath(key), localRecord(ss[0], deadPID, "1"), t0)
		reached, resume, passed := pause(ss[1], "break.judged")
		done := make(chan error, 1)
		go func() { _, err := ss[1].TryLock(key); done <- err }()
		<-reached // the late breaker judged the lease stale, and stops before its claim
		unlock, err := ss[0].TryLock(key)
		if err != nil {
			t.Fatal(err)
		}
		resume()
		var le *LockedError
		if err := <-done; !errors.As(err, &le) || le.Holder.PID != os.Getpid() {
			t.Errorf("late breaker = %v, want LockedError naming the new holder", err)
		}
		if err := ss[0].CheckLock(key); err != nil {
			t.Errorf("the new holder lost its lease to the late breaker: %v", err)
		}
		// Its re-read under the claim stopped it: it never moved the live lease (which
		// would leave the key without a lease for a moment).
		if p := passed(); slices.Contains(p, "break.checked") {
			t.Errorf("the late breaker went on to rename the new lease: %v", p)
		}
		if len(*broke) != 1 {
			t.Errorf("breaks: %v, want one", *broke)
		}
		unlock()
	})

	t.Run("re-check after the rename gives back a live lease", func(t *testing.T) {
		dir, ss, broke := breakers(t, 1)
		c := openAs(t, dir, "node-c")
		newFakeClock(t0).use(c)
		plantLease(t, ss[0].lockPath(key), remoteRecord("node-x", nil), t0.Add(-time.Hour))
		var restored atomic.Bool
		var unlockC func()
		ss[0].testHook = func(p, name string, err error) {
			switch p {
			case "break.checked":
				// The holder on node-x was alive after all: it releases its lease, and
				// node-c takes the key, after this breaker's re-check and before its
				// rename (the window a stale NFS cache can also open).
				os.Remove(ss[0].lockPath(key))
				var err error
				if unlockC, err = c.TryLock(key); err != nil {
					t.Errorf("node-c: %v", err)
				}
			case "break.restored":
				restored.Store(true)
			}
		}
		var le *LockedError
		if _, err := ss[0].TryLock(key); !errors.As(err, &le) || le.Holder.Host != "node-c" {
			t.Fatalf("breaker = %v, want LockedError naming node-c", err)
		}
		if !restored.Load() {
			t.Error("the moved lease was not put back")
		}
		if err := c.CheckLock(key); err != nil {
			t.Errorf("node-c's lease after the breaker moved it: %v", err)
		}
		if len(*broke) != 0 {
			t.Errorf("OnBreak called: %v", *broke)
		}
		if names := lockNames(t, c); !slices.Equal(names, []string{key + ".lock"}) {
			t.Errorf("locks/ = %v, want only node-c's lease", names)
		}
		unlockC()
	})

	t.Run("the claim of a breaker that died is broken too", func(t *testing.T) {
		_, ss, broke := breakers(t, 1)
		s := ss[0]
		stale := localRecord(s, deadPID, "1")
		plantLease(t, s.lockPath(key), stale, t0)
		sum := sha256.Sum256([]byte("token-" + stale.Token))
		claim := s.lockPath(key) + ".break-" + hex.EncodeToString(sum[:8])
		plantLease(t, claim, localRecord(s, deadPID, "2"), t0)
		unlock, err := s.TryLock(key)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"locks/" + filepath.Base(claim), "locks/" + key + ".lock"}
		if !slices.Equal(*broke, want) {
			t.Errorf("breaks %v, want %v", *broke, want)
		}
		if names := lockNames(t, s); !slices.Equal(names, []string{key + ".lock"}) {
			t.Errorf("locks/ = %v, want only the new lease", names)
		}
		unlock()
	})
}

// Leases of the index: a writer that died holding one does not block the next.
func TestIndexLeaseOfDeadWriter(t *testing.T) {
	s := openTest(t)
	name := s.indexPath("/x.hcl") + ".lock"
	plantLease(t, name, localRecord(s, deadPID, "1"), t0)
	e := IndexEntry{Key: testKey("1"), Stage: "train"}
	if err := s.RecordIndex("/x.hcl", map[string]IndexEntry{"train.a": e}); err != nil {
		t.Fatal(err)
	}
	if s.ReadIndex("/x.hcl").Nodes["train.a"].Key != e.Key {
		t.Error("entry not recorded")
	}
	if _, err := os.Lstat(name); !os.IsNotExist(err) {
		t.Errorf("index lease left behind: %v", err)
	}
}

// A writer that holds the index lease and does not let go makes RecordIndex give up after
// the lease timeout, with an error naming it (the pipeline prints it as a warning).
func TestIndexLeaseHeld(t *testing.T) {
	s := openTest(t)
	c := newFakeClock(t0)
	c.use(s)
	s.LeaseTimeout = 2 * time.Second
	name := s.indexPath("/x.hcl")
	live, err := s.acquire(name+".lock", leaseOpts{timeout: s.briefTimeout()})
	if err != nil {
		t.Fatal(err)
	}
	defer live.release()
	done := make(chan error, 1)
	go func() { done <- s.RecordIndex("/x.hcl", map[string]IndexEntry{"t.a": {Key: testKey("1")}}) }()
	for {
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "is still locked by pid") || !strings.Contains(err.Error(), "results are not affected") {
				t.Fatalf("RecordIndex = %v", err)
			}
			return
		case <-c.pending(1): // RecordIndex waits for its next retry
			c.Advance(lockPollMax)
		}
	}
}

func TestRemoveStrayLeaseDebris(t *testing.T) {
	s := openTest(t)
	c := newFakeClock(t0)
	c.use(s)
	key := testKey("debris")
	lease := s.lockPath(key)
	idxLease := s.indexPath("/x.hcl") + ".lock"
	old, fresh := t0.Add(-2*time.Minute), t0.Add(-time.Second)
	write := func(name string, mtime time.Time) {
		plantLease(t, name, "x", mtime)
	}
	hex16 := "0123456789abcdef"
	write(lease+".new-"+hex16, old)             // a taker killed between write and link
	write(lease+".broken-"+hex16, old)          // a breaker killed between rename and unlink
	write(lease+".new-fedcba9876543210", fresh) // a taker at work now
	write(idxLease+".broken-"+hex16, old)
	plantLease(t, lease+".break-"+hex16, localRecord(s, deadPID, "1"), t0)                            // a dead breaker's claim
	plantLease(t, lease+".break-fedcba9876543210", localRecord(s, os.Getpid(), s.self.ProcStart), t0) // a live one's
	write(filepath.Join(s.Dir(), "locks", "notes.txt"), old)
	write(lease+".new-XYZ", old) // not a name the store makes

	dry, _, err := s.RemoveStrayTemps(true)
	if err != nil {
		t.Fatal(err)
	}
	removed, skipped, err := s.RemoveStrayTemps(false)
	if err != nil {
		t.Fatal(err)
	}
	l := "locks/" + key + ".lock"
	want := []string{"index/" + filepath.Base(idxLease) + ".broken-" + hex16, l + ".break-" + hex16, l + ".broken-" + hex16, l + ".new-" + hex16}
	slices.Sort(want)
	slices.Sort(removed)
	slices.Sort(dry)
	if !slices.Equal(removed, want) || !slices.Equal(dry, want) {
		t.Errorf("removed %v\ndry run %v\nwant %v", removed, dry, want)
	}
	got := JoinSkipped(skipped)
	if len(skipped) != 2 || !strings.Contains(got, l+".new-fedcba9876543210 belongs to a lease being taken or broken now (1s old)") ||
		!strings.Contains(got, l+".break-fedcba9876543210 is the claim of a process breaking a stale lease now") {
		t.Errorf("skipped: %s", got)
	}
	names := lockNames(t, s)
	wantNames := []string{key + ".lock.break-fedcba9876543210", key + ".lock.new-XYZ", key + ".lock.new-fedcba9876543210", "notes.txt"}
	if !slices.Equal(names, wantNames) {
		t.Errorf("locks/ = %v\nwant %v", names, wantNames)
	}
}

// BenchmarkTryLock measures taking and releasing one key's lease, what every node of an
// apply pays (a cached node included), on the file system of the test's temporary
// directory.
func BenchmarkTryLock(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "results"))
	if err != nil {
		b.Fatal(err)
	}
	key := testKey("bench")
	b.ReportAllocs()
	for b.Loop() {
		unlock, err := s.TryLock(key)
		if err != nil {
			b.Fatal(err)
		}
		unlock()
	}
}
