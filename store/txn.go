package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"dmlrun/internal/failpoint"

	"golang.org/x/sys/unix"
)

// Txn is the write of one artifact: the stage writes into Dir, then Commit makes it the
// artifact for the key, or Abort gives up.
type Txn struct {
	s         *Store
	key       string
	resumable bool
	done      bool

	// Dir is where the stage writes its files (absolute).
	Dir string
	// Resumed is true when Dir holds the output of an earlier interrupted run of a
	// resumable stage.
	Resumed bool
}

// Begin starts writing the artifact for key. The caller must hold the key's lock for the
// whole transaction.
//
// For a resumable stage Dir is tmp/<key>.partial: if an interrupted run left it, it is
// returned as is with Resumed set, and Abort keeps it for the next attempt. For any other
// stage Dir is a fresh empty directory with an unpredictable name, which Abort removes.
//
// Because the caller holds the lock, every other tmp/ leftover of this key belongs to a
// dead run, and Begin removes it first: temporary directories tmp/<key>.<random> of a
// killed non-resumable run and tmp/discard-<key>.* of a crash while an artifact was being
// replaced (the failed-run log and a real partial directory are kept). Begin refuses a
// tmp/<key>.partial that is a symbolic link, or that holds one: the stage would write and
// delete files through it, outside the store.
func (s *Store) Begin(key string, resumable bool) (*Txn, error) {
	if !ValidKey(key) {
		return nil, fmt.Errorf("begin: invalid key %q", key)
	}
	if err := s.removeDeadTemps(key); err != nil {
		return nil, fmt.Errorf("begin %s: %w", short(key), err)
	}
	t := &Txn{s: s, key: key, resumable: resumable}
	if resumable {
		t.Dir = s.PartialDir(key)
		fi, err := os.Lstat(t.Dir)
		switch {
		case err == nil && fi.Mode()&fs.ModeSymlink != 0:
			return nil, fmt.Errorf("begin %s: %w: the stage would write through it; remove the link (rm %s) and apply again", short(key), linkError(t.Dir), t.Dir)
		case err == nil && fi.IsDir():
			if _, _, err := walkFiles(t.Dir); err != nil {
				return nil, fmt.Errorf("begin %s: resuming %s: %w; a resumed stage would write or delete through it, so remove it (or the whole directory to start over) and apply again", short(key), t.Dir, err)
			}
			t.Resumed = true
			// A failed Commit may have left its manifest behind; the stage's files are
			// what count, and Commit writes a new manifest.
			_ = os.Remove(filepath.Join(t.Dir, ManifestName))
		case err == nil:
			return nil, fmt.Errorf("begin %s: %s is %s, not a directory; remove it and apply again", short(key), t.Dir, describeMode(fi.Mode()))
		case os.IsNotExist(err):
			if err := os.Mkdir(t.Dir, 0o755); err != nil {
				return nil, fmt.Errorf("begin %s: %w", short(key), err)
			}
		default:
			return nil, fmt.Errorf("begin %s: %w", short(key), err)
		}
		return t, nil
	}
	if err := s.ownDir("tmp"); err != nil {
		return nil, fmt.Errorf("begin %s: %w", short(key), err)
	}
	dir, err := os.MkdirTemp(filepath.Join(s.dir, "tmp"), key+".")
	if err != nil {
		return nil, fmt.Errorf("begin %s: %w", short(key), err)
	}
	t.Dir = dir
	return t, nil
}

// removeDeadTemps removes the tmp/ leftovers of key's earlier runs (see Begin). The caller
// holds key's lock. The partial directory is Begin's to judge; a symbolic link in place of
// the failed-run log is removed itself, so that the next failed run does not write its
// log through it.
func (s *Store) removeDeadTemps(key string) error {
	temps, err := s.Temps()
	if err != nil {
		return fmt.Errorf("clean up tmp/: %w", err)
	}
	var errs []error
	for _, te := range temps {
		if te.Key != key || te.Partial || (te.FailedLog && !te.Link) {
			continue
		}
		if err := s.RemoveTemp(te.Name); err != nil {
			errs = append(errs, fmt.Errorf("remove leftover tmp/%s: %w", te.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Commit lists, hashes and fsyncs every file in Dir, writes m (with Key and Files filled)
// as manifest.json, renames Dir into place as the artifact, fsyncs the parent directories
// and makes the artifact read-only. When this Store holds the key's lock, Commit first
// checks that the lease was not broken meanwhile, and fails with a *LeaseLostError if it
// was. An artifact that is already there and verifies (another process committed the key
// without this one's lease) is kept: Commit removes Dir and returns that artifact. An existing artifact for the key (one that failed
// verification) is replaced. On error before the rename nothing is left that looks like a
// valid artifact; a non-resumable Dir is removed, a resumable one is kept for the next
// attempt. An error after the rename (making it read-only) leaves a complete artifact
// that verification covers.
func (t *Txn) Commit(m *Manifest) (*Artifact, error) {
	if t.done {
		return nil, errors.New("commit: transaction already finished")
	}
	art, err := t.commit(m)
	if err != nil {
		_ = t.Abort()
		return nil, fmt.Errorf("commit %s: %w", short(t.key), err)
	}
	t.done = true
	return art, nil
}

func (t *Txn) commit(m *Manifest) (*Artifact, error) {
	root := t.s.dir
	files, dirs, err := walkFiles(t.Dir)
	if err != nil {
		return nil, err
	}
	m.Format = ManifestFormat
	m.Key = t.key
	m.Files = m.Files[:0]
	for _, rel := range files {
		size, sum, err := hashFile(root, filepath.Join(t.Dir, filepath.FromSlash(rel)), true)
		if err != nil {
			return nil, err
		}
		m.Files = append(m.Files, File{Path: rel, Size: size, SHA256: sum})
	}
	if err := failpoint.Inject("store.commit.hashed"); err != nil {
		return nil, err
	}
	data, err := EncodeManifest(m)
	if err != nil {
		return nil, err
	}
	if err := writeFileSync(root, filepath.Join(t.Dir, ManifestName), data); err != nil {
		return nil, err
	}
	// Directories deepest first, so each directory's entries are durable before its parent.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := syncDir(root, dirs[i]); err != nil {
			return nil, err
		}
	}
	if err := failpoint.Inject("store.commit.manifest"); err != nil {
		return nil, err
	}
	final := t.s.ArtifactDir(t.key)
	parent := filepath.Dir(final)
	if err := os.Mkdir(parent, 0o755); err != nil && !os.IsExist(err) {
		return nil, err
	}
	// The shard folder must be the store's own: renaming into a link would put the
	// artifact wherever it points.
	fi, err := os.Lstat(parent)
	if err != nil {
		return nil, err
	}
	if err := checkOwnDir(parent, fi); err != nil {
		return nil, err
	}
	if err := syncDir(root, root); err != nil {
		return nil, err
	}
	// A lease this Store holds on the key may have been broken by a process that took it
	// to be dead; that process may be computing the key too, and only one may commit.
	if l := t.s.heldLease(t.s.lockPath(t.key)); l != nil {
		if err := l.check(); err != nil {
			return nil, err
		}
	}
	// A directory already there failed verification when the caller looked (or it would
	// not be writing), unless another process committed the key since without this
	// process's lease (a lease broken unnoticed, or a caller that does not lock): then
	// the artifact there is as good as this one, and readers may be using it, so it
	// stays and this output goes.
	if _, err := os.Lstat(final); err == nil {
		if there, problems, unchecked := t.s.check(t.key, final, true); len(problems) == 0 && unchecked == "" {
			if err := removeAll(t.Dir); err != nil {
				return nil, err
			}
			return &Artifact{Key: t.key, Dir: final, Manifest: there}, nil
		}
	}
	// Otherwise move it away first, since rename cannot replace a non-empty directory.
	t.s.forgetVerified(t.key)
	if err := t.s.discard(t.key, final); err != nil {
		return nil, fmt.Errorf("replace corrupted artifact: %w", err)
	}
	if err := os.Rename(t.Dir, final); err != nil {
		return nil, err
	}
	if err := syncDir(root, parent); err != nil {
		return nil, err
	}
	if err := syncDir(root, filepath.Dir(t.Dir)); err != nil {
		return nil, err
	}
	if err := failpoint.Inject("store.commit.renamed"); err != nil {
		return nil, err
	}
	// Read-only after the rename: renaming a directory to a new parent needs write
	// permission on the directory itself. A crash in between leaves a writable but
	// complete artifact, which verification still covers.
	if err := makeReadOnly(final); err != nil {
		return nil, err
	}
	// Just hashed while writing; the stats after chmod are the ones later reads will see.
	t.s.recordVerified(t.key, final, m)
	t.s.forgetFailedLog(t.key)
	return &Artifact{Key: t.key, Dir: final, Manifest: m}, nil
}

// Abort ends the transaction without an artifact. A non-resumable Dir is removed; a
// resumable one is kept so that the next Begin resumes it. Abort after Commit does nothing.
func (t *Txn) Abort() error {
	if t.done {
		return nil
	}
	t.done = true
	_ = os.Remove(filepath.Join(t.Dir, ManifestName))
	if t.resumable {
		return nil
	}
	return removeAll(t.Dir)
}

// Discard ends the transaction and removes Dir even for a resumable stage (its partial
// output is known to be useless).
func (t *Txn) Discard() error {
	t.done = true
	return removeAll(t.Dir)
}

// writeFileSync creates (or truncates) a regular file inside root without following a
// link, writes data and fsyncs it.
func writeFileSync(root, name string, data []byte) error {
	f, err := openIn(root, name, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}
