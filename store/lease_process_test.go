package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Leases between real processes: this test binary run again as helper processes with
// DMLRUN_STORE_LEASE_CHILD set. Helpers that must start together read their stdin to EOF
// first, and the test closes it once all of them run; nothing waits on time.

const (
	leaseChildEnv = "DMLRUN_STORE_LEASE_CHILD" // what the helper does
	childHostEnv  = "DMLRUN_STORE_CHILD_HOST"  // the host name it pretends to run on
	childKeysEnv  = "DMLRUN_STORE_CHILD_KEYS"  // comma-separated keys
	childLogEnv   = "DMLRUN_STORE_CHILD_LOG"   // where it appends what it did
)

// TestLeaseChild is the helpers' body; it does nothing in a normal test run.
func TestLeaseChild(t *testing.T) {
	op := os.Getenv(leaseChildEnv)
	if op == "" {
		t.Skip("runs only as a helper process of the lease tests")
	}
	fail := func(what string, err error) {
		fmt.Printf("%s: %v\n", what, err)
		os.Exit(1)
	}
	s, err := Open(os.Getenv(childDirEnv))
	if err != nil {
		fail("open", err)
	}
	if h := os.Getenv(childHostEnv); h != "" {
		s.host, s.self.Host = h, h
	}
	var log *os.File
	if p := os.Getenv(childLogEnv); p != "" {
		if log, err = os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err != nil {
			fail("log", err)
		}
		defer log.Close()
		// One short write per line: O_APPEND writes of a few bytes do not interleave.
		s.OnBreak = func(lease string, h LockInfo, why string) { fmt.Fprintf(log, "break %s\n", lease) }
	}
	keys := strings.Split(os.Getenv(childKeysEnv), ",")
	switch op {
	case "hold":
		unlock, err := s.TryLock(keys[0])
		if err != nil {
			fail("lock", err)
		}
		fmt.Println("locked")
		_, _ = io.Copy(io.Discard, os.Stdin)
		unlock()
	case "compute":
		_, _ = io.Copy(io.Discard, os.Stdin)
		for _, key := range keys {
			if err := computeOnce(s, key, log); err != nil {
				fail("compute", err)
			}
		}
	case "index":
		_, _ = io.Copy(io.Discard, os.Stdin)
		for i := range 10 {
			addr := fmt.Sprintf("t.%s-%d", s.Host(), i)
			if err := s.RecordIndex("/exp.hcl", map[string]IndexEntry{addr: {Key: testKey(addr), Stage: "t"}}); err != nil {
				fail("index", err)
			}
		}
	}
}

// computeOnce is what an executor does for one node: lock (waiting), look, compute and
// commit.
func computeOnce(s *Store, key string, log *os.File) error {
	unlock, err := s.Lock(context.Background(), key, nil)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := s.Get(key); err == nil {
		return nil
	}
	txn, err := s.Begin(key, false)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(txn.Dir, "out.txt"), []byte(key), 0o644); err != nil {
		return err
	}
	if _, err := txn.Commit(&Manifest{Stage: "t"}); err != nil {
		return err
	}
	_, err = fmt.Fprintf(log, "computed %s by %d\n", key, os.Getpid())
	return err
}

func leaseChild(t *testing.T, dir, op, host string, keys []string, log string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLeaseChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), leaseChildEnv+"="+op, childDirEnv+"="+dir, childHostEnv+"="+host,
		childKeysEnv+"="+strings.Join(keys, ","), childLogEnv+"="+log)
	return cmd
}

// runTogether starts every command with its stdin on a pipe, lets them all go at once
// (closing the pipes) and waits for them.
func runTogether(t *testing.T, cmds []*exec.Cmd) {
	t.Helper()
	var gates []io.Closer
	outs := make([]strings.Builder, len(cmds))
	for i, cmd := range cmds {
		w, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		gates = append(gates, w)
	}
	for _, g := range gates {
		g.Close()
	}
	var wg sync.WaitGroup
	errs := make([]error, len(cmds))
	for i, cmd := range cmds {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = cmd.Wait() }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil || !strings.Contains(outs[i].String(), "PASS") {
			t.Errorf("helper %d: %v\n%s", i, err, outs[i].String())
		}
	}
}

// Several processes, some pretending to be on other machines (where no pid check
// applies: only the lease file excludes them), work through the same keys, half of which
// start with a stale lease left by a dead process. Each key is computed exactly once, and
// each stale lease is broken exactly once however the breakers interleave.
func TestProcessesComputeEachKeyOnce(t *testing.T) {
	if os.Getenv(leaseChildEnv) != "" {
		t.Skip("in a helper")
	}
	s := openTest(t)
	var keys []string
	var wantBreaks []string
	for i := range 8 {
		k := testKey(fmt.Sprintf("once-%d", i))
		keys = append(keys, k)
		switch i % 4 {
		case 0: // a dead process of this machine
			plantLease(t, s.lockPath(k), localRecord(s, deadPID, "1"), time.Now())
			wantBreaks = append(wantBreaks, "break locks/"+k+".lock")
		case 1: // a process on another machine whose heartbeat stopped a day ago
			plantLease(t, s.lockPath(k), remoteRecord("node-x", nil), time.Now().Add(-24*time.Hour))
			wantBreaks = append(wantBreaks, "break locks/"+k+".lock")
		}
	}
	log := filepath.Join(t.TempDir(), "log")
	var cmds []*exec.Cmd
	for i, host := range []string{"", "", "node-b", "node-c"} {
		// Each helper starts at another key, so that they meet on every one.
		rotated := append(slices.Clone(keys[2*i:]), keys[:2*i]...)
		cmds = append(cmds, leaseChild(t, s.Dir(), "compute", host, rotated, log))
	}
	runTogether(t, cmds)

	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	computed := map[string]int{}
	var breaks []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if k, ok := strings.CutPrefix(line, "computed "); ok {
			computed[strings.Fields(k)[0]]++
		} else {
			breaks = append(breaks, line)
		}
	}
	for _, k := range keys {
		if computed[k] != 1 {
			t.Errorf("key %s computed %d times, want once", k[:12], computed[k])
		}
		if _, err := s.Get(k); err != nil {
			t.Errorf("Get %s: %v", k[:12], err)
		}
	}
	slices.Sort(breaks)
	slices.Sort(wantBreaks)
	if !slices.Equal(breaks, wantBreaks) {
		t.Errorf("breaks:\n%s\nwant each stale lease broken once:\n%s", strings.Join(breaks, "\n"), strings.Join(wantBreaks, "\n"))
	}
	if names := lockNames(t, s); len(names) != 0 {
		t.Errorf("locks/ after all helpers = %v, want it empty", names)
	}
}

// A holder killed with SIGKILL leaves its lease behind: while it runs, others wait; once
// it is dead (a zombie not yet reaped counts as dead), its lease is stale by pid.
func TestKilledHolderLeaseIsStale(t *testing.T) {
	if os.Getenv(leaseChildEnv) != "" {
		t.Skip("in a helper")
	}
	s := openTest(t)
	key := testKey("killed")
	cmd := leaseChild(t, s.Dir(), "hold", "", []string{key}, "")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() || sc.Text() != "locked" {
		t.Fatalf("helper said %q, want locked", sc.Text())
	}
	var le *LockedError
	if _, err := s.TryLock(key); !errors.As(err, &le) || le.Holder.PID != cmd.Process.Pid || le.Why != "its process is running on this machine" {
		t.Fatalf("TryLock while the helper holds the key = %v, want LockedError naming pid %d", err, cmd.Process.Pid)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	// Wait until it has exited without reaping it: a zombie still has its pid.
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PID, cmd.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil); err != nil {
		t.Fatal(err)
	}
	var why string
	s.OnBreak = func(lease string, h LockInfo, w string) { why = w }
	unlock, err := s.TryLock(key)
	if err != nil {
		t.Fatalf("TryLock after the holder was killed: %v", err)
	}
	unlock()
	if want := fmt.Sprintf("pid %d is no longer running on %s", cmd.Process.Pid, s.Host()); why != want {
		t.Errorf("break reason %q, want %q", why, want)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("helper: %v, want killed", err)
	}
}

// Writers of one experiment's index on several machines are serialised by the index
// lease: no entry is lost, and the index stays valid JSON.
func TestIndexWritersOnSeveralHosts(t *testing.T) {
	if os.Getenv(leaseChildEnv) != "" {
		t.Skip("in a helper")
	}
	s := openTest(t)
	var cmds []*exec.Cmd
	hosts := []string{"node-a", "node-b", "node-c"}
	for _, h := range hosts {
		cmds = append(cmds, leaseChild(t, s.Dir(), "index", h, nil, ""))
	}
	runTogether(t, cmds)
	idx := s.ReadIndex("/exp.hcl")
	for _, h := range hosts {
		for i := range 10 {
			addr := fmt.Sprintf("t.%s-%d", h, i)
			if idx.Nodes[addr].Key != testKey(addr) {
				t.Errorf("index lost %s", addr)
			}
		}
	}
	if len(idx.Nodes) != 30 {
		t.Errorf("index has %d entries, want 30", len(idx.Nodes))
	}
	mustIndexClean(t, s)
	ents, _ := os.ReadDir(filepath.Join(s.Dir(), "index"))
	if len(ents) != 1 {
		t.Errorf("index/ holds %d entries, want the index alone (no lease left)", len(ents))
	}
}
