package store

import (
	"errors"
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
// returns its path. Like every write inside the store it never follows a link: a link in its
// place is removed (the link itself) and a plain file written. The caller holds key's lock.
func (s *Store) KeepFailedLog(key string, data []byte) (string, error) {
	if !ValidKey(key) {
		return "", fmt.Errorf("keep failed log: invalid key %q", key)
	}
	name := s.FailedLogPath(key)
	f, err := openIn(s.dir, name, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC, 0o644)
	var le *LinkError
	if errors.As(err, &le) && le.Path == name {
		if rerr := os.Remove(name); rerr != nil {
			return "", fmt.Errorf("keep failed log: remove link %s: %w", name, rerr)
		}
		f, err = openIn(s.dir, name, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_EXCL, 0o644)
	}
	if err != nil {
		return "", fmt.Errorf("keep failed log: %w", err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
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
