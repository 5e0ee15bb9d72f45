package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Store is a content-addressed artifact store rooted at one directory. Its methods are safe
// for concurrent use by several goroutines and several processes on one machine's local
// disk (see the package comment for where it is not safe).
type Store struct {
	dir  string
	host string

	// Now is the clock used for lock records and times in manifests and the index. Tests
	// replace it; Open sets time.Now.
	Now func() time.Time

	// lockOpened, when set (by tests), runs in TryLock between opening the lock file and
	// flock, the window in which Remove may delete the file under a waiter.
	lockOpened func()
}

// Open opens (creating if needed) the store rooted at dir. dir should be on a local file
// system; see the package comment.
func Open(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	for _, sub := range []string{"", "tmp", "locks", "index", "verified"} {
		if err := os.MkdirAll(filepath.Join(abs, sub), 0o755); err != nil {
			return nil, fmt.Errorf("open store %s: %w", dir, err)
		}
	}
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	return &Store{dir: abs, host: host, Now: time.Now}, nil
}

// Dir returns the store's absolute root directory.
func (s *Store) Dir() string { return s.dir }

// Host returns the host name recorded in locks and manifests.
func (s *Store) Host() string { return s.host }

func (s *Store) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// ArtifactDir returns where the artifact for key lives (or would live).
func (s *Store) ArtifactDir(key string) string {
	return filepath.Join(s.dir, key[:2], key)
}

// PartialDir returns where a resumable stage's interrupted output for key is kept.
func (s *Store) PartialDir(key string) string {
	return filepath.Join(s.dir, "tmp", key+".partial")
}

// HasPartial reports whether an interrupted resumable run left output for key.
func (s *Store) HasPartial(key string) bool {
	fi, err := os.Stat(s.PartialDir(key))
	return err == nil && fi.IsDir()
}

// Artifact is a finished, verified artifact.
type Artifact struct {
	Key      string
	Dir      string // absolute; read-only
	Manifest *Manifest
}

// MissError says why a key is not usable from the store. Absent is true when there is no
// artifact at all; otherwise the artifact exists but failed verification (Reason says how)
// and will be replaced when the key is computed again.
type MissError struct {
	Key    string
	Absent bool
	Reason string
}

func (e *MissError) Error() string {
	return fmt.Sprintf("artifact %s: %s", short(e.Key), e.Reason)
}

// IsMiss reports whether err is a *MissError.
func IsMiss(err error) bool {
	var me *MissError
	return errors.As(err, &me)
}

// Get returns the artifact for key after checking its manifest and the size and SHA-256
// of every file, and that no unlisted file was added. Any failure is a *MissError with a
// reason; Get never returns an unverified hit. Files whose size, mtime, ctime and inode are
// unchanged since their last full check are not re-hashed (see statcache.go); Verify
// always re-hashes.
func (s *Store) Get(key string) (*Artifact, error) {
	if !ValidKey(key) {
		return nil, &MissError{Key: key, Absent: true, Reason: "invalid key"}
	}
	dir := s.ArtifactDir(key)
	if _, err := os.Stat(dir); err != nil {
		if os.IsNotExist(err) {
			return nil, &MissError{Key: key, Absent: true, Reason: "not in store"}
		}
		return nil, &MissError{Key: key, Reason: err.Error()}
	}
	if m, err := readManifest(key, dir); err == nil && s.unchangedSinceVerified(key, dir, m) {
		if files, _, err := walkFiles(dir); err == nil && len(files) == len(m.Files) {
			return &Artifact{Key: key, Dir: dir, Manifest: m}, nil
		}
	}
	m, problems := s.check(key, dir, true)
	if len(problems) > 0 {
		s.forgetVerified(key)
		return nil, &MissError{Key: key, Reason: "artifact corrupted: " + problems[0]}
	}
	s.recordVerified(key, dir, m)
	return &Artifact{Key: key, Dir: dir, Manifest: m}, nil
}

// Manifest reads and decodes an artifact's manifest without checking its files.
func (s *Store) Manifest(key string) (*Manifest, error) {
	if !ValidKey(key) {
		return nil, fmt.Errorf("invalid key %q", key)
	}
	return readManifest(key, s.ArtifactDir(key))
}

func readManifest(key, dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, err
	}
	m, err := DecodeManifest(b)
	if err != nil {
		return nil, err
	}
	if m.Key != key {
		return nil, fmt.Errorf("manifest names key %s, directory is %s", short(m.Key), short(key))
	}
	return m, nil
}

// check verifies an artifact directory and returns the problems found: the first one with
// stopEarly, else all of them.
func (s *Store) check(key, dir string, stopEarly bool) (*Manifest, []string) {
	m, err := readManifest(key, dir)
	if err != nil {
		return nil, []string{"bad manifest: " + err.Error()}
	}
	var problems []string
	listed := make(map[string]bool, len(m.Files))
	for _, f := range m.Files {
		listed[f.Path] = true
		size, sum, err := hashFile(filepath.Join(dir, filepath.FromSlash(f.Path)), false)
		switch {
		case os.IsNotExist(err):
			problems = append(problems, fmt.Sprintf("file %s missing", f.Path))
		case err != nil:
			problems = append(problems, fmt.Sprintf("file %s: %v", f.Path, err))
		case size != f.Size:
			problems = append(problems, fmt.Sprintf("file %s size %d, manifest says %d", f.Path, size, f.Size))
		case sum != f.SHA256:
			problems = append(problems, fmt.Sprintf("file %s digest mismatch", f.Path))
		}
		if stopEarly && len(problems) > 0 {
			return m, problems
		}
	}
	files, _, err := walkFiles(dir)
	if err != nil {
		problems = append(problems, err.Error())
	}
	for _, f := range files {
		if !listed[f] {
			problems = append(problems, fmt.Sprintf("file %s not in manifest", f))
		}
	}
	return m, problems
}

// Verify re-hashes one artifact and returns every problem found (nil when it is intact).
func (s *Store) Verify(key string) []string {
	if !ValidKey(key) {
		return []string{"invalid key"}
	}
	m, problems := s.check(key, s.ArtifactDir(key), false)
	if len(problems) > 0 {
		s.forgetVerified(key)
	} else {
		s.recordVerified(key, s.ArtifactDir(key), m)
	}
	return problems
}

// Keys lists the keys of all artifact directories in the store, sorted. It does not verify
// them.
func (s *Store) Keys() ([]string, error) {
	tops, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list store %s: %w", s.dir, err)
	}
	var keys []string
	for _, t := range tops {
		if !t.IsDir() || len(t.Name()) != 2 {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(s.dir, t.Name()))
		if err != nil {
			return nil, fmt.Errorf("list store %s: %w", s.dir, err)
		}
		for _, e := range ents {
			if e.IsDir() && ValidKey(e.Name()) && strings.HasPrefix(e.Name(), t.Name()) {
				keys = append(keys, e.Name())
			}
		}
	}
	sort.Strings(keys)
	return keys, nil
}

// Size returns the total size in bytes of the files under an artifact directory.
func (s *Store) Size(key string) int64 {
	var n int64
	files, _, _ := walkFiles(s.ArtifactDir(key))
	for _, f := range files {
		if fi, err := os.Stat(filepath.Join(s.ArtifactDir(key), f)); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// Remove deletes the artifact, any partial output and the lock file for key. The caller
// must hold the key's lock (TryLock or Lock) and release it afterwards; lockers that
// opened the deleted lock file notice and retry on a new one.
func (s *Store) Remove(key string) error {
	if !ValidKey(key) {
		return fmt.Errorf("remove: invalid key %q", key)
	}
	defer os.Remove(s.lockPath(key))
	s.forgetVerified(key)
	if err := s.discard(s.ArtifactDir(key)); err != nil {
		return fmt.Errorf("remove %s: %w", short(key), err)
	}
	if err := removeAll(s.PartialDir(key)); err != nil {
		return fmt.Errorf("remove %s: %w", short(key), err)
	}
	return nil
}

// discard moves dir out of the way in one rename (so it stops being visible as an artifact
// at once) and then deletes it.
func (s *Store) discard(dir string) error {
	if _, err := os.Lstat(dir); os.IsNotExist(err) {
		return nil
	}
	aside, err := os.MkdirTemp(filepath.Join(s.dir, "tmp"), "discard-")
	if err != nil {
		return err
	}
	target := filepath.Join(aside, "a")
	if err := os.Rename(dir, target); err != nil {
		os.Remove(aside)
		return err
	}
	_ = syncDir(filepath.Dir(dir))
	return removeAll(aside)
}

// TempEntry is a leftover in tmp/: the output of an interrupted run.
type TempEntry struct {
	Name    string // file name under tmp/
	Key     string // the key it belongs to ("" when the name does not say)
	Partial bool   // a resumable stage's kept output
}

// Temps lists the entries of tmp/.
func (s *Store) Temps() ([]TempEntry, error) {
	ents, err := os.ReadDir(filepath.Join(s.dir, "tmp"))
	if err != nil {
		return nil, err
	}
	var out []TempEntry
	for _, e := range ents {
		te := TempEntry{Name: e.Name()}
		if k, rest, ok := strings.Cut(e.Name(), "."); ok && ValidKey(k) {
			te.Key = k
			te.Partial = rest == "partial"
		}
		out = append(out, te)
	}
	return out, nil
}

// RemoveTemp deletes one tmp/ entry. The caller should hold the entry's key lock when it has
// one, so that a running stage's directory is not pulled away.
func (s *Store) RemoveTemp(name string) error {
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return fmt.Errorf("remove temp: bad name %q", name)
	}
	return removeAll(filepath.Join(s.dir, "tmp", name))
}
