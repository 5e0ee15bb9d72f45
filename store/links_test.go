package store

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// outside makes a directory next to the store (not in it) holding one file, and returns
// the directory and a function that fails the test unless the file is still there with
// its content: the store must never write, truncate or delete through a link.
func outside(t *testing.T) (dir string, intact func()) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "outside")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "precious.txt")
	if err := os.WriteFile(file, []byte("do not touch"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, func() {
		t.Helper()
		b, err := os.ReadFile(file)
		if err != nil || string(b) != "do not touch" {
			t.Errorf("file outside the store changed: %q, %v", b, err)
		}
		ents, _ := os.ReadDir(dir)
		if len(ents) != 1 {
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			t.Errorf("directory outside the store holds %v, want only precious.txt", names)
		}
	}
}

func TestOpenRefusesForeignInternalFolders(t *testing.T) {
	cases := []struct {
		name    string
		entry   string
		link    bool // a link to a directory outside; else a regular file
		problem string
	}{
		{"tmp link", "tmp", true, "is a symbolic link"},
		{"locks link", "locks", true, "is a symbolic link"},
		{"index link", "index", true, "is a symbolic link"},
		{"verified link", "verified", true, "is a symbolic link"},
		{"shard link", "3f", true, "is a symbolic link"},
		{"jobs link", "jobs", true, "is a symbolic link"},
		{"tmp file", "tmp", false, "is a regular file, not a directory"},
		{"jobs file", "jobs", false, "is a regular file, not a directory"},
		{"shard file", "3f", false, "is a regular file, not a directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "results")
			os.MkdirAll(root, 0o755)
			out, intact := outside(t)
			p := filepath.Join(root, tc.entry)
			if tc.link {
				if err := os.Symlink(out, p); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Open(root)
			var le *LayoutError
			if !errors.As(err, &le) {
				t.Fatalf("Open = %v, want a *LayoutError", err)
			}
			if le.Path != p || !strings.Contains(err.Error(), tc.problem) {
				t.Errorf("error %q, want it to name %s and say %q", err, p, tc.problem)
			}
			if tc.link && !strings.Contains(err.Error(), "rm "+p+" && mkdir "+p) {
				t.Errorf("error %q does not say how to fix it", err)
			}
			intact()
		})
	}
}

func TestOpenResolvesLinkedRoot(t *testing.T) {
	real := filepath.Join(t.TempDir(), "real")
	link := filepath.Join(t.TempDir(), "results")
	os.MkdirAll(real, 0o755)
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	s, err := Open(link)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := filepath.EvalSymlinks(real); s.Dir() != want {
		t.Errorf("Dir = %s, want the resolved %s", s.Dir(), want)
	}
	key := testKey("root")
	commitFiles(t, s, key, map[string]string{"f": "x"})
	if _, err := s.Get(key); err != nil {
		t.Errorf("Get through a linked root: %v", err)
	}
}

func TestLockRefusesForeignLockFile(t *testing.T) {
	cases := []struct {
		name  string
		plant func(lock, target string) error
		want  string
	}{
		{"symlink", func(lock, target string) error { return os.Symlink(target, lock) }, "is a symbolic link"},
		{"dangling symlink", func(lock, target string) error { return os.Symlink(target+".new", lock) }, "is a symbolic link"},
		{"hard link", func(lock, target string) error { return os.Link(target, lock) }, "has 2 hard links"},
		{"directory", func(lock, target string) error { return os.Mkdir(lock, 0o755) }, "is a directory, not a lock file"},
		{"fifo", func(lock, target string) error { return unix.Mkfifo(lock, 0o644) }, "a named pipe, not a lock file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t)
			out, intact := outside(t)
			key := testKey(tc.name)
			target := filepath.Join(out, "precious.txt")
			if tc.name == "hard link" {
				// A hard link must be on the same file system: plant the file beside
				// the store (still outside it).
				target = filepath.Join(filepath.Dir(s.Dir()), "precious.txt")
				os.WriteFile(target, []byte("do not touch"), 0o644)
				defer func() {
					if b, _ := os.ReadFile(target); string(b) != "do not touch" {
						t.Errorf("hard-linked file truncated: %q", b)
					}
				}()
			}
			if err := tc.plant(s.lockPath(key), target); err != nil {
				t.Fatal(err)
			}
			_, err := s.TryLock(key)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), s.lockPath(key)) {
				t.Errorf("TryLock = %v, want an error naming %s that says %q", err, s.lockPath(key), tc.want)
			}
			if _, err := os.Lstat(target + ".new"); !os.IsNotExist(err) {
				t.Errorf("a dangling link's target was created")
			}
			intact()
		})
	}
}

func TestBeginRefusesLinkedPartial(t *testing.T) {
	cases := []struct {
		name  string
		plant func(s *Store, key, out string) error
		want  string
	}{
		{"partial is a link", func(s *Store, key, out string) error {
			return os.Symlink(out, s.PartialDir(key))
		}, "is a symbolic link"},
		{"partial holds a linked file", func(s *Store, key, out string) error {
			os.Mkdir(s.PartialDir(key), 0o755)
			return os.Symlink(filepath.Join(out, "precious.txt"), filepath.Join(s.PartialDir(key), "epoch-1.ckpt"))
		}, "epoch-1.ckpt is a symbolic link, not a regular file or directory"},
		{"partial holds a linked folder", func(s *Store, key, out string) error {
			os.Mkdir(s.PartialDir(key), 0o755)
			return os.Symlink(out, filepath.Join(s.PartialDir(key), "ckpt"))
		}, "ckpt is a symbolic link, not a regular file or directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t)
			out, intact := outside(t)
			key := testKey(tc.name)
			if err := tc.plant(s, key, out); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Begin(key, true); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Begin = %v, want it to say %q", err, tc.want)
			}
			// Removing the key (as cache gc does) removes the link, not its target.
			if err := s.Remove(key); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Lstat(s.PartialDir(key)); !os.IsNotExist(err) {
				t.Errorf("partial entry still there after Remove: %v", err)
			}
			intact()
		})
	}
}

func TestGetDoesNotFollowLinks(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, s *Store, dir, out string)
		reason string
	}{
		{"artifact dir is a link", func(t *testing.T, s *Store, dir, out string) {
			// A faithful copy elsewhere, linked into place: still not the store's.
			copyTree(t, dir, filepath.Join(out, "copy"))
			removeAll(dir)
			os.Symlink(filepath.Join(out, "copy"), dir)
		}, "is a symbolic link"},
		{"file is a link", func(t *testing.T, s *Store, dir, out string) {
			os.WriteFile(filepath.Join(out, "same"), []byte("hello"), 0o644)
			os.Chmod(dir, 0o755)
			os.Remove(filepath.Join(dir, "out.txt"))
			os.Symlink(filepath.Join(out, "same"), filepath.Join(dir, "out.txt"))
		}, "out.txt is a symbolic link"},
		{"sub folder is a link", func(t *testing.T, s *Store, dir, out string) {
			os.MkdirAll(filepath.Join(out, "sub"), 0o755)
			os.WriteFile(filepath.Join(out, "sub", "x.bin"), []byte("xyz"), 0o644)
			os.Chmod(dir, 0o755)
			removeAll(filepath.Join(dir, "sub"))
			os.Symlink(filepath.Join(out, "sub"), filepath.Join(dir, "sub"))
		}, "sub is a symbolic link"},
		{"manifest is a link", func(t *testing.T, s *Store, dir, out string) {
			b, _ := os.ReadFile(filepath.Join(dir, ManifestName))
			os.WriteFile(filepath.Join(out, "manifest.json"), b, 0o644)
			os.Chmod(dir, 0o755)
			os.Remove(filepath.Join(dir, ManifestName))
			os.Symlink(filepath.Join(out, "manifest.json"), filepath.Join(dir, ManifestName))
		}, "bad manifest: " + "DIR/manifest.json is a symbolic link"},
		{"file is a fifo", func(t *testing.T, s *Store, dir, out string) {
			os.Chmod(dir, 0o755)
			os.Remove(filepath.Join(dir, "out.txt"))
			if err := unix.Mkfifo(filepath.Join(dir, "out.txt"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "out.txt is a named pipe, not a regular file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t)
			out := t.TempDir() // what the links point at
			key := testKey(tc.name)
			art := commitFiles(t, s, key, map[string]string{"out.txt": "hello", "sub/x.bin": "xyz"})
			tc.damage(t, s, art.Dir, out)
			before := snapshot(t, out)
			_, err := s.Get(key)
			var me *MissError
			reason := strings.ReplaceAll(tc.reason, "DIR", art.Dir)
			if !errors.As(err, &me) || me.Absent || !strings.Contains(me.Reason, reason) {
				t.Fatalf("Get = %v, want a miss saying %q", err, reason)
			}
			if p := s.Verify(key); len(p) == 0 && s.VerifyArtifact(key).NotChecked == "" {
				t.Errorf("Verify found nothing")
			}
			// Computing the key again replaces what is there without touching the outside.
			commitFiles(t, s, key, map[string]string{"out.txt": "hello", "sub/x.bin": "xyz"})
			if _, err := s.Get(key); err != nil {
				t.Errorf("after recommit: %v", err)
			}
			if after := snapshot(t, out); !slices.Equal(before, after) {
				t.Errorf("outside changed:\n before %v\n after  %v", before, after)
			}
			if temps, _ := s.Temps(); len(temps) != 0 {
				t.Errorf("tmp/ after recommit: %v", temps)
			}
		})
	}
}

func TestScanAccountsForEveryEntry(t *testing.T) {
	s := openTest(t)
	out, intact := outside(t)
	good := testKey("good")
	commitFiles(t, s, good, map[string]string{"f": "x"})
	// A linked shard folder holding an artifact (made after Open, which would refuse it).
	elsewhere := openTest(t)
	hidden := "3f" + testKey("hidden")[2:]
	os.MkdirAll(filepath.Join(elsewhere.Dir(), "3f", hidden), 0o755)
	os.Symlink(filepath.Join(elsewhere.Dir(), "3f"), filepath.Join(s.Dir(), "3f"))
	os.WriteFile(filepath.Join(s.Dir(), "README"), nil, 0o644)
	os.Mkdir(filepath.Join(s.Dir(), "backup"), 0o755)
	shard := filepath.Join(s.Dir(), good[:2])
	os.Chmod(shard, 0o755)
	os.WriteFile(filepath.Join(shard, "notes.txt"), nil, 0o644)
	wrong := "00" + good[2:]
	os.Mkdir(filepath.Join(shard, wrong), 0o755)
	linked := good[:2] + testKey("linked")[2:]
	os.Symlink(out, filepath.Join(shard, linked))
	fileKey := good[:2] + testKey("file")[2:]
	os.WriteFile(filepath.Join(shard, fileKey), nil, 0o644)

	keys, skipped, err := s.Scan()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []string{good}) {
		t.Errorf("keys = %v, want only %s", keys, good)
	}
	got := map[string]string{}
	for _, sk := range skipped {
		got[sk.Path] = sk.Reason
	}
	want := map[string]string{
		"3f/":                    "is a symbolic link",
		"README":                 "is not a store entry",
		"backup/":                "is not a store entry",
		good[:2] + "/notes.txt":  "its name is not a key",
		good[:2] + "/" + wrong:   "is in the wrong shard folder (its key belongs in 00/",
		good[:2] + "/" + linked:  "is a symbolic link",
		good[:2] + "/" + fileKey: "is a regular file, not an artifact directory",
	}
	if len(got) != len(want) {
		t.Errorf("skipped %d entries, want %d: %v", len(got), len(want), JoinSkipped(skipped))
	}
	for p, reason := range want {
		if !strings.Contains(got[p], reason) {
			t.Errorf("skipped %s: %q, want it to say %q", p, got[p], reason)
		}
	}
	intact()
}

func TestRemoveTempRemovesLinkOnly(t *testing.T) {
	s := openTest(t)
	out, intact := outside(t)
	for _, name := range []string{testKey("a") + ".123", "discard-" + testKey("b") + ".1", "foreign"} {
		if err := os.Symlink(out, filepath.Join(s.Dir(), "tmp", name)); err != nil {
			t.Fatal(err)
		}
		if err := s.RemoveTemp(name); err != nil {
			t.Fatal(err)
		}
	}
	if temps, _ := s.Temps(); len(temps) != 0 {
		t.Errorf("tmp/ = %v", temps)
	}
	intact()
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if fi.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// snapshot lists every path under dir with its size and mode, for before/after checks.
func snapshot(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			out = append(out, p+" "+fi.Mode().String()+" "+strconv.FormatInt(fi.Size(), 10))
		}
		return nil
	})
	return out
}

// jobs/ is made on first use, and is the store's own: Scan does not list it as foreign.
func TestJobsDir(t *testing.T) {
	s := openTest(t)
	if _, err := os.Lstat(filepath.Join(s.Dir(), "jobs")); !os.IsNotExist(err) {
		t.Errorf("Open made jobs/: %v", err)
	}
	p, err := s.JobsDir()
	if err != nil || p != filepath.Join(s.Dir(), "jobs") {
		t.Fatalf("JobsDir = %q, %v", p, err)
	}
	os.MkdirAll(filepath.Join(p, "run-1", "s1"), 0o755)
	if _, skipped, err := s.Scan(); err != nil || len(skipped) != 0 {
		t.Errorf("Scan: skipped %v, %v", skipped, err)
	}
	os.RemoveAll(p)
	out, _ := outside(t)
	os.Symlink(out, p)
	if _, err := s.JobsDir(); err == nil || !strings.Contains(err.Error(), "is a symbolic link") {
		t.Errorf("JobsDir with a linked jobs/ = %v", err)
	}
}
