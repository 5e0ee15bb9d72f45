package store

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// FailedLogPath returns where the log of key's last failed run is kept: tmp/<key>.failed.log,
// beside the temporary directories, so that removing a failed run's output does not remove
// its explanation.
func (s *Store) FailedLogPath(key string) string {
	return filepath.Join(s.dir, "tmp", key+".failed.log")
}

// KeepFailedLog stores data as the log of key's last failed run, replacing an older one, and
// returns its path. It writes a temporary file tmp/<key>.failed.log.<random> and renames it
// over the log, so that a reader (plan or show, perhaps on another machine) sees the old
// log or the new one, never a part. Like every write inside the store it never follows a
// link: rename replaces a link in its place itself. The caller holds key's lock (a
// temporary file left by a crash is a dead run's leftover, which Begin removes).
func (s *Store) KeepFailedLog(key string, data []byte) (string, error) {
	if !ValidKey(key) {
		return "", fmt.Errorf("keep failed log: invalid key %q", key)
	}
	if err := s.ownDir("tmp"); err != nil {
		return "", fmt.Errorf("keep failed log: %w", err)
	}
	name := s.FailedLogPath(key)
	tmp := name + "." + randomHex(8)
	f, err := openIn(s.dir, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o644)
	if err != nil {
		return "", fmt.Errorf("keep failed log: %w", err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("keep failed log %s: %w", name, err)
	}
	return name, nil
}

// forgetFailedLog removes key's failed-run log once the key has been computed: the log
// explains a failure that no longer stands.
func (s *Store) forgetFailedLog(key string) {
	name := s.FailedLogPath(key)
	if fi, err := os.Lstat(name); err == nil && !fi.IsDir() {
		_ = os.Remove(name)
	}
}
