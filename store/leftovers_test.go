package store

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

func tmpNames(t *testing.T, s *Store) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(s.Dir(), "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func mkdirs(t *testing.T, base string, names ...string) {
	t.Helper()
	for _, n := range names {
		if err := os.MkdirAll(filepath.Join(base, n, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(base, n, "sub", "f"), []byte("x"), 0o444)
		os.Chmod(filepath.Join(base, n, "sub"), 0o555) // as a crash mid-discard leaves it
	}
}

// Begin (under the key's lock) removes what dead runs of that key left in tmp/, and only
// that.
func TestBeginRemovesDeadTemps(t *testing.T) {
	for _, resumable := range []bool{false, true} {
		name := "plain"
		if resumable {
			name = "resumable"
		}
		t.Run(name, func(t *testing.T) {
			s := openTest(t)
			key, other := testKey("k"), testKey("other")
			tmp := filepath.Join(s.Dir(), "tmp")
			dead := []string{key + ".123456", key + ".987", "discard-" + key + ".42"}
			kept := []string{other + ".555", "discard-" + other + ".1", key + ".partial"}
			mkdirs(t, tmp, append(dead, kept...)...)
			os.WriteFile(filepath.Join(tmp, key+".failed.log"), []byte("why"), 0o644)
			kept = append(kept, key+".failed.log")
			unlock, err := s.TryLock(key)
			if err != nil {
				t.Fatal(err)
			}
			defer unlock()
			txn, err := s.Begin(key, resumable)
			if err != nil {
				t.Fatal(err)
			}
			want := append([]string{}, kept...)
			if !resumable {
				want = append(want, filepath.Base(txn.Dir))
			}
			sort.Strings(want)
			if got := tmpNames(t, s); !slices.Equal(got, want) {
				t.Errorf("tmp/ after Begin:\n got %v\nwant %v", got, want)
			}
			if resumable != txn.Resumed {
				t.Errorf("Resumed = %v", txn.Resumed)
			}
		})
	}
}

// A link in place of the failed-run log is removed by Begin, so that the executor's next
// failed-run log is not written through it.
func TestBeginRemovesLinkedFailedLog(t *testing.T) {
	s := openTest(t)
	out, intact := outside(t)
	key := testKey("log")
	log := filepath.Join(s.Dir(), "tmp", key+".failed.log")
	os.Symlink(filepath.Join(out, "precious.txt"), log)
	if _, err := s.Begin(key, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(log); !os.IsNotExist(err) {
		t.Errorf("linked failed log still there: %v", err)
	}
	intact()
}

func TestTempNames(t *testing.T) {
	k := testKey("n")
	cases := []struct {
		name string
		want TempEntry
	}{
		{k + ".partial", TempEntry{Key: k, Partial: true}},
		{k + ".failed.log", TempEntry{Key: k, FailedLog: true}},
		{k + ".123", TempEntry{Key: k}},
		{"discard-" + k + ".77", TempEntry{Key: k, Discard: true}},
		{"discard-99", TempEntry{Discard: true}},
		{k, TempEntry{Foreign: true}},
		{k + ".", TempEntry{Foreign: true}},
		{"notes.txt", TempEntry{Foreign: true}},
	}
	for _, tc := range cases {
		tc.want.Name = tc.name
		if got := parseTempName(tc.name); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// RecordIndex uses a temporary name per experiment and removes its own experiment's dead
// temporary files; RemoveStrayTemps removes the others' unless a writer holds their lease.
func TestIndexTemps(t *testing.T) {
	s := openTest(t)
	idx := filepath.Join(s.Dir(), "index")
	a, b, c := s.indexPath("/a.hcl"), s.indexPath("/b.hcl"), s.indexPath("/c.hcl")
	write := func(p string) {
		if err := os.WriteFile(p, []byte("{"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(a + ".111.tmp") // a dead writer of /a.hcl
	write(b + ".222.tmp") // of /b.hcl
	write(c + ".333.tmp") // /c.hcl: its writer is alive (holds the lock)
	write(filepath.Join(idx, "index-444.tmp"))
	write(filepath.Join(idx, "mine.tmp"))
	write(filepath.Join(s.Dir(), "verified", testKey("v")+".555.tmp"))

	e := IndexEntry{Key: testKey("1"), Stage: "train"}
	if err := s.RecordIndex("/a.hcl", map[string]IndexEntry{"train.x": e}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(a + ".111.tmp"); !os.IsNotExist(err) {
		t.Errorf("RecordIndex left its experiment's dead temporary file: %v", err)
	}
	if _, err := os.Lstat(b + ".222.tmp"); err != nil {
		t.Errorf("RecordIndex removed another experiment's temporary file: %v", err)
	}

	live, err := s.acquire(c+".lock", leaseOpts{timeout: s.briefTimeout()}) // /c.hcl's writer
	if err != nil {
		t.Fatal(err)
	}
	dry, _, err := s.RemoveStrayTemps(true)
	if err != nil {
		t.Fatal(err)
	}
	removed, skipped, err := s.RemoveStrayTemps(false)
	if err != nil {
		t.Fatal(err)
	}
	live.release()
	rel := func(p string) string { r, _ := filepath.Rel(s.Dir(), p); return r }
	want := []string{rel(b + ".222.tmp"), "index/index-444.tmp", "verified/" + testKey("v") + ".555.tmp"}
	sort.Strings(want)
	sort.Strings(removed)
	if !slices.Equal(removed, want) || !slices.Equal(dry, removed) {
		t.Errorf("removed %v (dry run %v), want %v", removed, dry, want)
	}
	if got := JoinSkipped(skipped); !strings.Contains(got, rel(c+".333.tmp")+" is being written by a running apply") ||
		!strings.Contains(got, "index/mine.tmp is not a name the store makes") || len(skipped) != 2 {
		t.Errorf("skipped: %s", got)
	}
	if _, err := os.Lstat(c + ".333.tmp"); err != nil {
		t.Errorf("a live writer's temporary file was removed: %v", err)
	}
	if s.ReadIndex("/a.hcl").Nodes["train.x"].Key != e.Key {
		t.Errorf("index lost its entry")
	}
}
