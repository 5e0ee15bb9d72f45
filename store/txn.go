package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
func (s *Store) Begin(key string, resumable bool) (*Txn, error) {
	if !ValidKey(key) {
		return nil, fmt.Errorf("begin: invalid key %q", key)
	}
	t := &Txn{s: s, key: key, resumable: resumable}
	if resumable {
		t.Dir = s.PartialDir(key)
		fi, err := os.Stat(t.Dir)
		switch {
		case err == nil && fi.IsDir():
			t.Resumed = true
			// A failed Commit may have left its manifest behind; the stage's files are
			// what count, and Commit writes a new manifest.
			_ = os.Remove(filepath.Join(t.Dir, ManifestName))
		case err == nil:
			return nil, fmt.Errorf("begin %s: %s is not a directory", short(key), t.Dir)
		case os.IsNotExist(err):
			if err := os.Mkdir(t.Dir, 0o755); err != nil {
				return nil, fmt.Errorf("begin %s: %w", short(key), err)
			}
		default:
			return nil, fmt.Errorf("begin %s: %w", short(key), err)
		}
		return t, nil
	}
	dir, err := os.MkdirTemp(filepath.Join(s.dir, "tmp"), key+".")
	if err != nil {
		return nil, fmt.Errorf("begin %s: %w", short(key), err)
	}
	t.Dir = dir
	return t, nil
}

// Commit lists, hashes and fsyncs every file in Dir, writes m (with Key and Files filled)
// as manifest.json, renames Dir into place as the artifact, fsyncs the parent directories
// and makes the artifact read-only. An existing artifact for the key (one that failed
// verification) is replaced. On error nothing is left that looks like a valid artifact;
// a non-resumable Dir is removed, a resumable one is kept for the next attempt.
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
	files, dirs, err := walkFiles(t.Dir)
	if err != nil {
		return nil, err
	}
	m.Format = ManifestFormat
	m.Key = t.key
	m.Files = m.Files[:0]
	for _, rel := range files {
		size, sum, err := hashFile(filepath.Join(t.Dir, filepath.FromSlash(rel)), true)
		if err != nil {
			return nil, err
		}
		m.Files = append(m.Files, File{Path: rel, Size: size, SHA256: sum})
	}
	data, err := EncodeManifest(m)
	if err != nil {
		return nil, err
	}
	if err := writeFileSync(filepath.Join(t.Dir, ManifestName), data); err != nil {
		return nil, err
	}
	// Directories deepest first, so each directory's entries are durable before its parent.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := syncDir(dirs[i]); err != nil {
			return nil, err
		}
	}
	final := t.s.ArtifactDir(t.key)
	parent := filepath.Dir(final)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	if err := syncDir(t.s.dir); err != nil {
		return nil, err
	}
	// A directory already there failed verification (or the caller would not be writing):
	// move it away first, since rename cannot replace a non-empty directory.
	t.s.forgetVerified(t.key)
	if err := t.s.discard(final); err != nil {
		return nil, fmt.Errorf("replace corrupted artifact: %w", err)
	}
	if err := os.Rename(t.Dir, final); err != nil {
		return nil, err
	}
	if err := syncDir(parent); err != nil {
		return nil, err
	}
	if err := syncDir(filepath.Dir(t.Dir)); err != nil {
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

func writeFileSync(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
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
