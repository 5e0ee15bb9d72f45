package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Store is a content-addressed artifact store rooted at one directory. Its methods are safe
// for concurrent use by several goroutines and several processes, on one machine or on
// several sharing the store's file system (see the package comment for which file systems
// are supported). Set its exported fields before first use.
type Store struct {
	dir  string
	host string
	self holderID // this process, as its leases name it

	// Now is the clock used for lease records and heartbeats and for times in manifests
	// and the index. Tests replace it; Open sets time.Now. Machines sharing a store must
	// keep their clocks in step (NTP) well within LeaseTimeout.
	Now func() time.Time

	// JobAlive, when set, tells what Slurm knows about the job named in a lease whose
	// holder this process cannot check itself (it is on another machine). JobGone makes
	// the lease stale at once; JobRunning and JobUnknown leave it to the heartbeat's age.
	// The store never runs Slurm commands itself: the Slurm executor sets this, answering
	// from its batched squeue state (it is called on every check of such a lease, so it
	// must be cheap) and saying JobUnknown for a job of another cluster (SlurmJob.Cluster).
	JobAlive func(SlurmJob) JobState

	// LeaseTimeout is how old a lease's heartbeat must be before the lease is stale when
	// nothing else can tell (0: DefaultLeaseTimeout). HeartbeatInterval is how often a
	// holder renews its leases (0: DefaultHeartbeatInterval; at most LeaseTimeout/4).
	LeaseTimeout      time.Duration
	HeartbeatInterval time.Duration

	// OnBreak, when set, is called after this process broke a stale lease (lease is its
	// path relative to the root, holder what it recorded, why why it was stale), so that
	// the take-over can be reported.
	OnBreak func(lease string, holder LockInfo, why string)

	leasesMu sync.Mutex
	leases   map[string]*lease // held by this Store, by lease file path

	after    func(time.Duration) <-chan time.Time // heartbeat and lock-wait timers (nil: time.After); tests inject a fake clock
	testHook func(point, name string, err error)  // tests: called at named steps of the lease protocol

	// ManifestKey, when set, recomputes an artifact's key from the key material its
	// manifest records (stage, stage version, parameters, input keys, key inputs). Get
	// and Verify call it on every manifest they read: a key that differs from the
	// artifact's own is damage (the manifest lies about what the artifact was made
	// from), and an *UncheckableError says the key cannot be recomputed by this program.
	// The store knows nothing of stages, so its owner (dmlrun's command layer) injects
	// this; nil checks nothing beyond the manifest's form and the files' digests.
	ManifestKey func(*Manifest) (string, error)
}

// UncheckableError is what a ManifestKey function returns when it cannot recompute a
// manifest's key: the manifest names a stage, or a stage version, that this program does
// not have. Get treats it as a miss (it is only asked for keys of the current stages);
// Verify reports the artifact as not checked rather than as damaged.
type UncheckableError struct {
	Reason string // "made by stage train version 3, this dmlrun has 4"
}

func (e *UncheckableError) Error() string { return e.Reason }

// Dir returns the store's absolute root directory (with a linked root resolved).
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

// HasPartial reports whether an interrupted resumable run left output for key: a real
// directory (a symbolic link there is not the store's, and Begin refuses it).
func (s *Store) HasPartial(key string) bool {
	fi, err := os.Lstat(s.PartialDir(key))
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

// lookDir checks, without following links, that the shard folder and the artifact
// directory of key are real directories. It returns a *MissError when they are not.
func (s *Store) lookDir(key string) error {
	shard := filepath.Join(s.dir, key[:2])
	for _, p := range []string{shard, s.ArtifactDir(key)} {
		fi, err := os.Lstat(p)
		switch {
		case os.IsNotExist(err):
			return &MissError{Key: key, Absent: true, Reason: "not in store"}
		case err != nil:
			return &MissError{Key: key, Reason: err.Error()}
		case fi.Mode()&fs.ModeSymlink != 0:
			return &MissError{Key: key, Reason: linkError(p).Error()}
		case !fi.IsDir():
			return &MissError{Key: key, Reason: fmt.Sprintf("%s is %s, not a directory", p, describeMode(fi.Mode()))}
		}
	}
	return nil
}

// Get returns the artifact for key after checking its manifest (its form, and with
// ManifestKey set, that its key material hashes to its key), the size and SHA-256 of every
// file, and that no unlisted file was added. Any failure is a *MissError with a reason;
// Get never returns an unverified hit, and never follows a symbolic link inside the store.
// Files whose size, mtime, ctime and inode are unchanged since their last full check are
// not re-hashed (see statcache.go); the key material is checked every time. Verify always
// re-hashes.
func (s *Store) Get(key string) (*Artifact, error) {
	if !ValidKey(key) {
		return nil, &MissError{Key: key, Absent: true, Reason: "invalid key"}
	}
	if err := s.lookDir(key); err != nil {
		return nil, err
	}
	dir := s.ArtifactDir(key)
	if m, err := s.readManifest(key, dir); err == nil && s.unchangedSinceVerified(key, dir, m) {
		if problem, unchecked := s.checkKey(m); problem == "" && unchecked == "" {
			if files, _, err := walkFiles(dir); err == nil && len(files) == len(m.Files) {
				return &Artifact{Key: key, Dir: dir, Manifest: m}, nil
			}
		}
	}
	m, problems, unchecked := s.check(key, dir, true)
	if len(problems) > 0 {
		s.forgetVerified(key)
		return nil, &MissError{Key: key, Reason: "artifact corrupted: " + problems[0]}
	}
	if unchecked != "" {
		// Get is asked for keys of the current stages, so a manifest made by another
		// version (or stage) cannot describe this key: it lies.
		s.forgetVerified(key)
		return nil, &MissError{Key: key, Reason: "manifest does not match this key: " + unchecked}
	}
	s.recordVerified(key, dir, m)
	return &Artifact{Key: key, Dir: dir, Manifest: m}, nil
}

// Manifest reads and decodes an artifact's manifest without checking its files or its key
// material: for listings (cache ls, gc) only. Get is the read to trust.
func (s *Store) Manifest(key string) (*Manifest, error) {
	if !ValidKey(key) {
		return nil, fmt.Errorf("invalid key %q", key)
	}
	if err := s.lookDir(key); err != nil {
		return nil, err
	}
	return s.readManifest(key, s.ArtifactDir(key))
}

func (s *Store) readManifest(key, dir string) (*Manifest, error) {
	b, err := readIn(s.dir, filepath.Join(dir, ManifestName))
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

// checkKey recomputes m's key with ManifestKey. It returns a problem (the key material
// does not hash to the key, or does not fit the stage) or why the key cannot be checked;
// both are "" when it matches or no ManifestKey is set.
func (s *Store) checkKey(m *Manifest) (problem, unchecked string) {
	if s.ManifestKey == nil {
		return "", ""
	}
	k, err := s.ManifestKey(m)
	var ue *UncheckableError
	switch {
	case errors.As(err, &ue):
		return "", ue.Reason
	case err != nil:
		return "manifest key material: " + err.Error(), ""
	case k != m.Key:
		return fmt.Sprintf("manifest fields hash to key %s, not its own key %s (stage, stage_version, params, inputs or key_inputs were changed)", short(k), short(m.Key)), ""
	}
	return "", ""
}

// check verifies an artifact directory and returns the problems found (the first one
// with stopEarly, else all of them) and, separately, why its key could not be checked.
func (s *Store) check(key, dir string, stopEarly bool) (*Manifest, []string, string) {
	m, err := s.readManifest(key, dir)
	if err != nil {
		return nil, []string{"bad manifest: " + err.Error()}, ""
	}
	var problems []string
	problem, unchecked := s.checkKey(m)
	if problem != "" {
		problems = append(problems, problem)
		if stopEarly {
			return m, problems, ""
		}
	}
	listed := make(map[string]bool, len(m.Files))
	for _, f := range m.Files {
		listed[f.Path] = true
		size, sum, err := hashFile(s.dir, filepath.Join(dir, filepath.FromSlash(f.Path)), false)
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
			return m, problems, unchecked
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
	return m, problems, unchecked
}

// Verification is what VerifyArtifact found for one key.
type Verification struct {
	// Problems is the damage found; an artifact with any is never used, and the next
	// apply recomputes it.
	Problems []string
	// NotChecked says why the artifact could not be checked in full ("" when it was):
	// its key material names a stage or version this program does not have (its files
	// were still re-hashed; damage among them is in Problems), or its directory is a
	// symbolic link or not a directory (nothing behind it was read).
	NotChecked string
}

// VerifyArtifact re-hashes one artifact and re-checks its key material.
func (s *Store) VerifyArtifact(key string) Verification {
	if !ValidKey(key) {
		return Verification{Problems: []string{"invalid key"}}
	}
	if err := s.lookDir(key); err != nil {
		var me *MissError
		if errors.As(err, &me) && !me.Absent {
			return Verification{NotChecked: me.Reason}
		}
		return Verification{Problems: []string{"not in store"}}
	}
	m, problems, unchecked := s.check(key, s.ArtifactDir(key), false)
	if len(problems) > 0 || unchecked != "" {
		s.forgetVerified(key)
	} else {
		s.recordVerified(key, s.ArtifactDir(key), m)
	}
	return Verification{Problems: problems, NotChecked: unchecked}
}

// Verify re-hashes one artifact and returns every problem found (nil when it is intact).
// VerifyArtifact also says when the artifact could not be checked in full.
func (s *Store) Verify(key string) []string {
	return s.VerifyArtifact(key).Problems
}

// Size returns the total size in bytes of the files under an artifact directory (0 when it
// is a link or holds one).
func (s *Store) Size(key string) int64 {
	if !ValidKey(key) || s.lookDir(key) != nil {
		return 0
	}
	var n int64
	files, _, _ := walkFiles(s.ArtifactDir(key))
	for _, f := range files {
		if fi, err := os.Lstat(filepath.Join(s.ArtifactDir(key), filepath.FromSlash(f))); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
	}
	return n
}

// Remove deletes the artifact and any partial output for key. The caller must hold the
// key's lock (TryLock or Lock) and release it afterwards, which removes the lease file. A
// symbolic link in place of any of them is removed itself; what it points at is not
// touched.
func (s *Store) Remove(key string) error {
	if !ValidKey(key) {
		return fmt.Errorf("remove: invalid key %q", key)
	}
	s.forgetVerified(key)
	if err := s.discard(key, s.ArtifactDir(key)); err != nil {
		return fmt.Errorf("remove %s: %w", short(key), err)
	}
	if err := removeAll(s.PartialDir(key)); err != nil {
		return fmt.Errorf("remove %s: %w", short(key), err)
	}
	return nil
}

// discard moves dir out of the way in one rename (so it stops being visible as an artifact
// at once) to tmp/discard-<key>.<random>, and then deletes it. The caller holds key's
// lock; a crash in between leaves the discard directory, which the next Begin for the key
// or cache gc removes. A link at dir is moved and removed itself, never followed.
func (s *Store) discard(key, dir string) error {
	if _, err := os.Lstat(dir); os.IsNotExist(err) {
		return nil
	}
	if err := s.ownDir("tmp"); err != nil {
		return err
	}
	aside, err := os.MkdirTemp(filepath.Join(s.dir, "tmp"), discardPrefix+key+".")
	if err != nil {
		return err
	}
	target := filepath.Join(aside, "a")
	if err := os.Rename(dir, target); err != nil {
		os.Remove(aside)
		return err
	}
	_ = syncDir(s.dir, filepath.Dir(dir))
	return removeAll(aside)
}

const discardPrefix = "discard-"

// TempEntry is an entry of tmp/: the output of an interrupted run, or something else.
type TempEntry struct {
	Name      string // file name under tmp/
	Key       string // the key it belongs to ("" when the name does not say)
	Partial   bool   // <key>.partial: a resumable stage's kept output
	FailedLog bool   // <key>.failed.log: the log of the key's last failed run
	Discard   bool   // discard-*: an artifact being deleted (a leftover unless its key is locked)
	Link      bool   // a symbolic link: never made by the store; removing it removes the link only
	Foreign   bool   // a name the store never makes; cache gc leaves it alone
}

// parseTempName classifies a tmp/ entry name.
func parseTempName(name string) TempEntry {
	te := TempEntry{Name: name}
	if rest, ok := strings.CutPrefix(name, discardPrefix); ok {
		te.Discard = true
		if k, _, ok := strings.Cut(rest, "."); ok && ValidKey(k) {
			te.Key = k
		}
		return te
	}
	k, rest, ok := strings.Cut(name, ".")
	if !ok || !ValidKey(k) || rest == "" {
		te.Foreign = true
		return te
	}
	te.Key = k
	te.Partial = rest == "partial"
	te.FailedLog = rest == "failed.log"
	return te
}

// Temps lists the entries of tmp/, sorted by name.
func (s *Store) Temps() ([]TempEntry, error) {
	ents, err := readDirIn(s.dir, filepath.Join(s.dir, "tmp"))
	if err != nil {
		return nil, err
	}
	var out []TempEntry
	for _, e := range ents {
		te := parseTempName(e.Name())
		te.Link = e.Type()&fs.ModeSymlink != 0
		out = append(out, te)
	}
	return out, nil
}

// RemoveTemp deletes one tmp/ entry (a link there is removed itself, not followed). The
// caller should hold the entry's key lock when it has one, so that a running stage's
// directory is not pulled away.
func (s *Store) RemoveTemp(name string) error {
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return fmt.Errorf("remove temp: bad name %q", name)
	}
	return removeAll(filepath.Join(s.dir, "tmp", name))
}
