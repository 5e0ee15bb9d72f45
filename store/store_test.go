package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testKey(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "results"))
	if err != nil {
		t.Fatal(err)
	}
	fixed := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s.Now = func() time.Time { return fixed }
	return s
}

func commitFiles(t *testing.T, s *Store, key string, files map[string]string) *Artifact {
	t.Helper()
	txn, err := s.Begin(key, false)
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		p := filepath.Join(txn.Dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	art, err := txn.Commit(&Manifest{Stage: "t", Params: map[string]any{"a": 1}})
	if err != nil {
		t.Fatal(err)
	}
	return art
}

func TestCommitGet(t *testing.T) {
	s := openTest(t)
	key := testKey("a")
	if _, err := s.Get(key); !IsMiss(err) {
		t.Fatalf("Get before commit: %v, want miss", err)
	}
	commitFiles(t, s, key, map[string]string{"out.txt": "hello", "sub/x.bin": "xyz"})
	art, err := s.Get(key)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(art.Manifest.Files); got != 2 {
		t.Fatalf("files = %d, want 2", got)
	}
	if art.Manifest.Files[0].Path != "out.txt" || art.Manifest.Files[1].Path != "sub/x.bin" {
		t.Errorf("files = %+v", art.Manifest.Files)
	}
	fi, err := os.Stat(filepath.Join(art.Dir, "out.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o222 != 0 {
		t.Errorf("artifact file mode %v, want read-only", fi.Mode())
	}
	temps, _ := s.Temps()
	if len(temps) != 0 {
		t.Errorf("tmp/ not empty after commit: %v", temps)
	}
	keys, err := s.Keys()
	if err != nil || len(keys) != 1 || keys[0] != key {
		t.Errorf("Keys = %v, %v", keys, err)
	}
}

func TestCorruptionIsMiss(t *testing.T) {
	cases := []struct {
		name   string
		damage func(dir string)
		reason string
	}{
		{"digest", func(dir string) { overwrite(dir, "out.txt", "HELLO") }, "file out.txt digest mismatch"},
		{"size", func(dir string) { overwrite(dir, "out.txt", "hello!") }, "file out.txt size 6, manifest says 5"},
		{"missing", func(dir string) { os.Chmod(dir, 0o755); os.Remove(filepath.Join(dir, "out.txt")) }, "file out.txt missing"},
		{"extra", func(dir string) { os.Chmod(dir, 0o755); os.WriteFile(filepath.Join(dir, "new"), nil, 0o644) }, "file new not in manifest"},
		{"manifest", func(dir string) { overwrite(dir, ManifestName, "{") }, "bad manifest"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t)
			key := testKey(tc.name)
			art := commitFiles(t, s, key, map[string]string{"out.txt": "hello"})
			tc.damage(art.Dir)
			_, err := s.Get(key)
			var me *MissError
			if !errors.As(err, &me) || me.Absent {
				t.Fatalf("Get = %v, want a non-absent miss", err)
			}
			if !strings.Contains(me.Reason, tc.reason) {
				t.Errorf("reason %q, want it to contain %q", me.Reason, tc.reason)
			}
			if p := s.Verify(key); len(p) == 0 {
				t.Errorf("Verify found nothing")
			}
			// A new commit replaces the damaged artifact.
			commitFiles(t, s, key, map[string]string{"out.txt": "hello"})
			if _, err := s.Get(key); err != nil {
				t.Errorf("after recommit: %v", err)
			}
		})
	}
}

func overwrite(dir, name, body string) {
	p := filepath.Join(dir, name)
	os.Chmod(p, 0o644)
	os.WriteFile(p, []byte(body), 0o644)
}

func TestAbort(t *testing.T) {
	s := openTest(t)
	key := testKey("abort")
	txn, err := s.Begin(key, false)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(txn.Dir, "f"), []byte("x"), 0o644)
	if err := txn.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(txn.Dir); !os.IsNotExist(err) {
		t.Errorf("temp dir survives Abort: %v", err)
	}

	// A resumable transaction keeps its directory and the next Begin resumes it.
	txn, err = s.Begin(key, true)
	if err != nil || txn.Resumed {
		t.Fatalf("Begin resumable: resumed=%v err=%v", txn.Resumed, err)
	}
	os.WriteFile(filepath.Join(txn.Dir, "epoch1"), []byte("x"), 0o644)
	txn.Abort()
	if !s.HasPartial(key) {
		t.Fatal("partial dir gone after Abort")
	}
	txn, err = s.Begin(key, true)
	if err != nil || !txn.Resumed {
		t.Fatalf("second Begin: resumed=%v err=%v", txn.Resumed, err)
	}
	if _, err := os.Stat(filepath.Join(txn.Dir, "epoch1")); err != nil {
		t.Errorf("resumed dir lost its file: %v", err)
	}
	if _, err := txn.Commit(&Manifest{Stage: "t"}); err != nil {
		t.Fatal(err)
	}
	if s.HasPartial(key) {
		t.Error("partial dir still there after commit")
	}
}

func TestLock(t *testing.T) {
	s := openTest(t)
	key := testKey("lock")
	unlock, err := s.TryLock(key)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.TryLock(key)
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("second TryLock = %v, want LockedError", err)
	}
	if le.Holder.PID != os.Getpid() || le.Holder.Host != s.Host() {
		t.Errorf("holder = %+v", le.Holder)
	}
	// A waiter gives up when its context ends; cancelling from onWait makes that
	// deterministic (the lock is still held, so only the context can end the wait).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	waited := false
	if _, err := s.Lock(ctx, key, func(LockInfo) { waited = true; cancel() }); !errors.Is(err, context.Canceled) || !waited {
		t.Errorf("Lock on held key: err=%v waited=%v", err, waited)
	}
	// A waiter gets the lock once it is released: unlock only after the waiter has seen it
	// held (onWait), then the waiter must return.
	waiting := make(chan struct{})
	done := make(chan error)
	go func() {
		u, err := s.Lock(context.Background(), key, func(LockInfo) { close(waiting) })
		if err == nil {
			u()
		}
		done <- err
	}()
	<-waiting
	unlock()
	if err := <-done; err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
}

func TestIndex(t *testing.T) {
	s := openTest(t)
	if n := len(s.ReadIndex("/x.hcl").Nodes); n != 0 {
		t.Fatalf("empty index has %d nodes", n)
	}
	e := IndexEntry{Key: testKey("1"), Stage: "train", Params: map[string]string{"lr": "1e-05"}}
	if err := s.RecordIndex("/x.hcl", map[string]IndexEntry{"train.a": e}); err != nil {
		t.Fatal(err)
	}
	e2 := e
	e2.Key = testKey("2")
	if err := s.RecordIndex("/x.hcl", map[string]IndexEntry{"train.b": e2}); err != nil {
		t.Fatal(err)
	}
	idx := s.ReadIndex("/x.hcl")
	if idx.Nodes["train.a"].Key != e.Key || idx.Nodes["train.b"].Key != e2.Key {
		t.Errorf("index = %+v", idx)
	}
	if n := len(s.ReadIndex("/other.hcl").Nodes); n != 0 {
		t.Errorf("other experiment sees %d nodes", n)
	}
}

func TestStatCache(t *testing.T) {
	s := openTest(t)
	key := testKey("stat")
	art := commitFiles(t, s, key, map[string]string{"out.txt": "hello"})
	m := art.Manifest
	// Fresh files are "racy": not trusted until they are older than racyWindow.
	if s.unchangedSinceVerified(key, art.Dir, m) {
		t.Fatal("a just-written artifact was trusted without hashing")
	}
	// Pretend the files were written long ago (ctime cannot be set, so age the record).
	b, _ := os.ReadFile(s.statPath(key))
	var rec statRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	rec.Recorded += int64(time.Hour)
	b, _ = json.Marshal(rec)
	os.WriteFile(s.statPath(key), b, 0o644)
	if s.unchangedSinceVerified(key, art.Dir, m) {
		// The record file's mtime (the file system's clock) still says "just now".
		t.Fatal("a record dated ahead of the file system's clock was trusted")
	}
	later := time.Now().Add(time.Hour)
	os.Chtimes(s.statPath(key), later, later)
	if !s.unchangedSinceVerified(key, art.Dir, m) {
		t.Fatal("unchanged, old artifact not trusted")
	}
	// Any write changes ctime (and here the inode is kept, the size too).
	overwrite(art.Dir, "out.txt", "HELLO")
	if s.unchangedSinceVerified(key, art.Dir, m) {
		t.Error("an overwritten file was trusted")
	}
	if _, err := s.Get(key); !IsMiss(err) {
		t.Errorf("Get after overwrite: %v", err)
	}
}

// Remove runs under the key's lock and leaves the lease to the unlock: while the holder
// has not unlocked, nobody else gets the key, and unlocking leaves no lock file behind.
func TestRemoveKeepsLeaseUntilUnlock(t *testing.T) {
	s := openTest(t)
	key := testKey("rm")
	commitFiles(t, s, key, map[string]string{"f": "x"})
	unlock, err := s.TryLock(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(key); err != nil {
		t.Fatal(err)
	}
	var le *LockedError
	if _, err := s.TryLock(key); !errors.As(err, &le) {
		t.Fatalf("TryLock after Remove, before unlock = %v, want LockedError", err)
	}
	unlock()
	if _, err := os.Lstat(s.lockPath(key)); !os.IsNotExist(err) {
		t.Errorf("lock file after unlock: %v", err)
	}
	u, err := s.TryLock(key)
	if err != nil {
		t.Fatal(err)
	}
	u()
	if _, err := s.Get(key); !IsMiss(err) {
		t.Errorf("Get after Remove: %v", err)
	}
}

// Commit keeps an intact artifact that another process committed meanwhile (here one that
// did not lock) rather than replace it under its readers; a damaged one is replaced
// (TestCorruptionIsMiss).
func TestCommitKeepsAnIntactArtifact(t *testing.T) {
	s := openTest(t)
	key := testKey("twice")
	first := commitFiles(t, s, key, map[string]string{"out.txt": "first"})
	txn, err := s.Begin(key, false) // began before the first commit, in another process
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(txn.Dir, "out.txt"), []byte("second"), 0o644)
	art, err := txn.Commit(&Manifest{Stage: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if art.Dir != first.Dir || art.Manifest.Files[0].SHA256 != first.Manifest.Files[0].SHA256 {
		t.Errorf("Commit returned %+v, want the artifact already there", art.Manifest.Files)
	}
	if b, _ := os.ReadFile(filepath.Join(first.Dir, "out.txt")); string(b) != "first" {
		t.Errorf("artifact holds %q, want the first commit's", b)
	}
	if names := tmpNames(t, s); len(names) != 0 {
		t.Errorf("tmp/ = %v, want the second output removed", names)
	}
}
