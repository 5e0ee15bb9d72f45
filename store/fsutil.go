package store

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// syncDir fsyncs a directory so that entries created or renamed in it survive a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync dir %s: %w", dir, err)
	}
	return nil
}

// hashFile returns the size and hex SHA-256 of a file. With doSync it also fsyncs the file
// (a read-only descriptor is enough on Linux) so that its data is durable before the
// directory holding it is renamed into place.
func hashFile(name string, doSync bool) (int64, string, error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", fmt.Errorf("read %s: %w", name, err)
	}
	if doSync {
		if err := f.Sync(); err != nil {
			return 0, "", fmt.Errorf("fsync %s: %w", name, err)
		}
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// walkFiles lists the regular files under dir as sorted slash paths, excluding the manifest
// at the top. Anything that is not a regular file or a directory (symlinks, sockets) is an
// error: an artifact must be plain bytes that digests can cover.
func walkFiles(dir string) (files []string, dirs []string, err error) {
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			dirs = append(dirs, p)
		case d.Type().IsRegular():
			if rel != ManifestName {
				files = append(files, rel)
			}
		default:
			return fmt.Errorf("%s: not a regular file or directory (%v)", p, d.Type())
		}
		return nil
	})
	sort.Strings(files)
	return files, dirs, err
}

// makeReadOnly removes write permission from every file and directory under dir.
func makeReadOnly(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		// Directories last would be cleaner, but WalkDir reads a directory's entries
		// before visiting them, so clearing its write bit first does not stop the walk.
		mode := os.FileMode(0o444)
		if d.IsDir() {
			mode = 0o555
		}
		return os.Chmod(p, mode)
	})
}

// removeAll deletes a tree that may have been made read-only.
func removeAll(dir string) error {
	if _, err := os.Lstat(dir); os.IsNotExist(err) {
		return nil
	}
	// Restore owner write permission on directories so their entries can be unlinked.
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
	return os.RemoveAll(dir)
}
