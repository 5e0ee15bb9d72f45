package store

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"dmlrun/internal/failpoint"
)

// The store's fault points, exercised in a child process (this test binary run again with
// DMLRUN_FAILPOINT set, which arms points once per process): "error" must take the normal
// error path, "kill" must leave a store that the next run repairs. Nothing here waits on
// time: a killed child is simply waited for.

const (
	childOpEnv  = "DMLRUN_STORE_CHILD_OP"
	childDirEnv = "DMLRUN_STORE_CHILD_DIR"
)

var fpKey = testKey("failpoint")

// TestStoreChild is the child's body; it does nothing in a normal test run.
func TestStoreChild(t *testing.T) {
	op := os.Getenv(childOpEnv)
	if op == "" {
		t.Skip("runs only as the child of TestFailpoints")
	}
	s, err := Open(os.Getenv(childDirEnv))
	if err != nil {
		fmt.Println("open:", err)
		return
	}
	switch op {
	case "lock":
		_, err1 := s.TryLock(fpKey)
		unlock, err2 := s.TryLock(fpKey)
		if err2 == nil {
			unlock()
		}
		fmt.Printf("first: %v\nsecond: %v\n", err1, err2)
	case "commit", "commit-resumable":
		unlock, err := s.TryLock(fpKey)
		if err != nil {
			fmt.Println("lock:", err)
			return
		}
		defer unlock()
		txn, err := s.Begin(fpKey, op == "commit-resumable")
		if err != nil {
			fmt.Println("begin:", err)
			return
		}
		os.WriteFile(filepath.Join(txn.Dir, "out.txt"), []byte("hello"), 0o644)
		_, err = txn.Commit(&Manifest{Stage: "t"})
		fmt.Println("commit:", err)
	case "index":
		err := s.RecordIndex("/exp.hcl", map[string]IndexEntry{"t.a": {Key: fpKey, Stage: "t"}})
		fmt.Println("index:", err)
	}
}

// runChild runs one store operation in a child process with point=action armed and
// returns its output and whether it was killed.
func runChild(t *testing.T, dir, op, arm string) (string, bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestStoreChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childOpEnv+"="+op, childDirEnv+"="+dir, failpoint.EnvVar+"="+arm)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ProcessState.String() == "signal: killed" {
		return string(out), true
	}
	if err != nil {
		t.Fatalf("child %s with %s: %v\n%s", op, arm, err, out)
	}
	return string(out), false
}

func TestFailpoints(t *testing.T) {
	if os.Getenv(childOpEnv) != "" {
		t.Skip("in the child")
	}
	injected := "fault injected at "
	cases := []struct {
		arm    string
		op     string
		killed bool
		output string // what the child printed ("": the kill message of the point)
		check  func(t *testing.T, s *Store)
	}{
		{"store.lock=error", "lock", false, "first: lock " + fpKey[:12] + ": " + injected + "store.lock (hit 1, DMLRUN_FAILPOINT)\nsecond: <nil>", func(t *testing.T, s *Store) {
			mustLock(t, s)
		}},
		{"store.lock=kill", "lock", true, "", func(t *testing.T, s *Store) {
			mustLock(t, s) // the kernel released the dead holder's flock
		}},
		{"store.commit.hashed=error", "commit", false, injected + "store.commit.hashed", func(t *testing.T, s *Store) {
			mustMissAbsent(t, s)
			mustTmp(t, s, "")
			mustLock(t, s)
		}},
		{"store.commit.hashed=kill", "commit", true, "", func(t *testing.T, s *Store) {
			mustMissAbsent(t, s)
			mustTmp(t, s, fpKey+".") // the killed run's temporary directory ...
			recommit(t, s, false)    // ... which the next Begin removes
		}},
		{"store.commit.manifest=kill", "commit-resumable", true, "", func(t *testing.T, s *Store) {
			mustMissAbsent(t, s)
			if _, err := os.Stat(filepath.Join(s.PartialDir(fpKey), ManifestName)); err != nil {
				t.Errorf("the partial output lost its manifest: %v", err)
			}
			recommit(t, s, true)
		}},
		{"store.commit.manifest=error", "commit", false, injected + "store.commit.manifest", func(t *testing.T, s *Store) {
			mustMissAbsent(t, s)
			mustTmp(t, s, "")
		}},
		{"store.commit.renamed=kill", "commit", true, "", func(t *testing.T, s *Store) {
			// Complete but still writable: verification covers it.
			if _, err := s.Get(fpKey); err != nil {
				t.Errorf("Get after a kill between rename and chmod: %v", err)
			}
			if p := s.Verify(fpKey); len(p) != 0 {
				t.Errorf("Verify: %v", p)
			}
			mustTmp(t, s, "")
		}},
		{"store.commit.renamed=error", "commit", false, injected + "store.commit.renamed", func(t *testing.T, s *Store) {
			if _, err := s.Get(fpKey); err != nil {
				t.Errorf("Get after an error between rename and chmod: %v", err)
			}
		}},
		{"store.index.temp=kill", "index", true, "", func(t *testing.T, s *Store) {
			removed, _, err := s.RemoveStrayTemps(false)
			if err != nil || len(removed) != 1 || !strings.HasPrefix(removed[0], "index/") || !strings.HasSuffix(removed[0], ".tmp") {
				t.Errorf("RemoveStrayTemps = %v, %v; want the killed writer's temporary file", removed, err)
			}
			mustIndexClean(t, s)
		}},
		{"store.index.temp=error", "index", false, injected + "store.index.temp", func(t *testing.T, s *Store) {
			mustIndexClean(t, s)
			if n := len(s.ReadIndex("/exp.hcl").Nodes); n != 0 {
				t.Errorf("index has %d nodes after a failed write", n)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.arm, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "results")
			if _, err := Open(dir); err != nil {
				t.Fatal(err)
			}
			out, killed := runChild(t, dir, tc.op, tc.arm)
			if killed != tc.killed {
				t.Fatalf("killed = %v, want %v\n%s", killed, tc.killed, out)
			}
			want := tc.output
			if want == "" { // killed: the point says so on stderr before the signal
				want = injected + strings.Split(tc.arm, "=")[0]
			}
			if !strings.Contains(out, want) {
				t.Errorf("child output:\n%s\nwant it to contain %q", out, want)
			}
			s, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s)
		})
	}
}

func mustLock(t *testing.T, s *Store) {
	t.Helper()
	unlock, err := s.TryLock(fpKey)
	if err != nil {
		t.Fatalf("lock not free: %v", err)
	}
	unlock()
}

func mustMissAbsent(t *testing.T, s *Store) {
	t.Helper()
	var me *MissError
	if _, err := s.Get(fpKey); !errors.As(err, &me) || !me.Absent {
		t.Errorf("Get = %v, want an absent miss", err)
	}
}

// mustTmp checks that tmp/ is empty (prefix "") or holds exactly one entry with prefix.
func mustTmp(t *testing.T, s *Store, prefix string) {
	t.Helper()
	names := tmpNames(t, s)
	if prefix == "" && len(names) != 0 || prefix != "" && (len(names) != 1 || !strings.HasPrefix(names[0], prefix)) {
		t.Errorf("tmp/ = %v, want %s", names, map[bool]string{true: "empty", false: "one " + prefix + "* entry"}[prefix == ""])
	}
}

func mustIndexClean(t *testing.T, s *Store) {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(s.Dir(), "index"))
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("index/%s left behind", e.Name())
		}
	}
}

// recommit runs the key again as the next apply would and checks the store is clean.
func recommit(t *testing.T, s *Store, resumable bool) {
	t.Helper()
	unlock, err := s.TryLock(fpKey)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	txn, err := s.Begin(fpKey, resumable)
	if err != nil {
		t.Fatal(err)
	}
	if txn.Resumed != resumable {
		t.Errorf("Resumed = %v, want %v", txn.Resumed, resumable)
	}
	if names := tmpNames(t, s); len(names) != 1 || filepath.Join(s.Dir(), "tmp", names[0]) != txn.Dir {
		t.Errorf("tmp/ after Begin = %v, want only %s", names, filepath.Base(txn.Dir))
	}
	if resumable {
		if _, err := os.Lstat(filepath.Join(txn.Dir, ManifestName)); !os.IsNotExist(err) {
			t.Errorf("resumed directory still holds the old manifest")
		}
	} else {
		os.WriteFile(filepath.Join(txn.Dir, "out.txt"), []byte("hello"), 0o644)
	}
	if _, err := txn.Commit(&Manifest{Stage: "t"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(fpKey); err != nil {
		t.Error(err)
	}
	mustTmp(t, s, "")
}
