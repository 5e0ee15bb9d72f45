package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Everything the store opens inside its root goes through openIn, which walks the path one
// component at a time with O_NOFOLLOW: a symbolic link anywhere below the root (a linked
// shard folder, artifact directory, sub-directory or file) is never followed, however it
// got there and whenever it appeared. Listing and removing use Lstat-based walks and
// unlinkat (os.RemoveAll), which do not follow links either. Only the root itself may be
// a link; Open resolves it once.

// LinkError says the store met a symbolic link where it keeps its own files, and did not
// follow it.
type LinkError struct {
	Path   string // absolute
	Target string // what the link points at ("" when it could not be read)
}

func (e *LinkError) Error() string {
	to := ""
	if e.Target != "" {
		to = " (to " + e.Target + ")"
	}
	return fmt.Sprintf("%s is a symbolic link%s; the store never follows links inside itself", e.Path, to)
}

func linkError(p string) *LinkError {
	target, _ := os.Readlink(p)
	return &LinkError{Path: p, Target: target}
}

// maxSmallFile bounds what readIn reads (manifests, index files, stat records, lock
// records): a hostile or broken file must not exhaust memory.
const maxSmallFile = 64 << 20

// rel returns p relative to root as a clean slash path, or an error if p is not inside
// root (a bug in the caller: every path the store builds is inside it).
func relIn(root, p string) (string, error) {
	r, err := filepath.Rel(root, p)
	if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) || filepath.IsAbs(r) {
		return "", fmt.Errorf("%s is not inside the store %s (a bug in dmlrun)", p, root)
	}
	return filepath.ToSlash(r), nil
}

func openat(dfd int, name string, flag int, perm uint32) (int, error) {
	for {
		fd, err := unix.Openat(dfd, name, flag|unix.O_CLOEXEC, perm)
		if !errors.Is(err, unix.EINTR) {
			return fd, err
		}
	}
}

// openIn opens p, which must be inside root, without following a symbolic link at any
// component below root. A link is reported as a *LinkError naming the first linked
// component; other failures are *fs.PathError values (os.IsNotExist works on them).
func openIn(root, p string, flag int, perm os.FileMode) (*os.File, error) {
	rel, err := relIn(root, p)
	if err != nil {
		return nil, err
	}
	dfd, err := openat(unix.AT_FDCWD, root, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: root, Err: err}
	}
	parts := strings.Split(rel, "/")
	cur := root
	for _, part := range parts[:len(parts)-1] {
		cur = filepath.Join(cur, part)
		nfd, err := openat(dfd, part, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
		unix.Close(dfd)
		if err != nil {
			return nil, componentError(cur, "open", err)
		}
		dfd = nfd
	}
	fd, err := openat(dfd, parts[len(parts)-1], flag|unix.O_NOFOLLOW, uint32(perm.Perm()))
	unix.Close(dfd)
	if err != nil {
		return nil, componentError(p, "open", err)
	}
	return os.NewFile(uintptr(fd), p), nil
}

// componentError turns an open failure at p into a *LinkError when p is a link (O_NOFOLLOW
// gives ELOOP, or ENOTDIR with O_DIRECTORY), else a *fs.PathError.
func componentError(p, op string, err error) error {
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
		if fi, lerr := os.Lstat(p); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return linkError(p)
		}
	}
	return &fs.PathError{Op: op, Path: p, Err: err}
}

// openRegularIn opens an existing file inside root for reading and checks that it is a
// regular file. O_NONBLOCK keeps a FIFO planted in the store from hanging the open; it
// changes nothing for regular files.
func openRegularIn(root, p string) (*os.File, error) {
	f, err := openIn(root, p, unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat %s: %w", p, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is %s, not a regular file", p, describeMode(fi.Mode()))
	}
	return f, nil
}

// readIn reads a small regular file inside root without following links.
func readIn(root, p string) ([]byte, error) {
	f, err := openRegularIn(root, p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSmallFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	if len(b) > maxSmallFile {
		return nil, fmt.Errorf("%s is larger than %d MiB, more than the store ever writes there", p, maxSmallFile>>20)
	}
	return b, nil
}

// readDirIn lists a directory inside root (root itself when p == root) without following
// links.
func readDirIn(root, p string) ([]os.DirEntry, error) {
	f, err := openIn(root, p, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ents, err := f.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", p, err)
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	return ents, nil
}

// describeMode names a file type for messages: "a symbolic link", "a directory", ...
func describeMode(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsDir():
		return "a directory"
	case m.IsRegular():
		return "a regular file"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}

// syncDir fsyncs a directory inside root so that entries created or renamed in it survive
// a crash.
func syncDir(root, dir string) error {
	d, err := openIn(root, dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return fmt.Errorf("fsync dir: %w", err)
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

// hashFile returns the size and hex SHA-256 of a regular file inside root, opened without
// following links. With doSync it also fsyncs the file (a read-only descriptor is enough
// on Linux) so that its data is durable before the directory holding it is renamed into
// place.
func hashFile(root, name string, doSync bool) (int64, string, error) {
	f, err := openRegularIn(root, name)
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
// error naming it: an artifact must be plain bytes that digests can cover, and a link could
// lead reads or writes out of the store. WalkDir never follows links (dir itself is
// Lstat-ed too).
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
			return fmt.Errorf("%s is %s, not a regular file or directory", p, describeMode(d.Type()))
		}
		return nil
	})
	sort.Strings(files)
	return files, dirs, err
}

// chmodNoFollow sets the permission bits of a file or directory that the caller found to
// be one (not a link) by Lstat. It changes the mode through a descriptor opened with
// O_NOFOLLOW, so a link swapped in meanwhile is refused rather than followed.
func chmodNoFollow(p string, mode os.FileMode, isDir bool) error {
	flag := unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK
	if isDir {
		flag |= unix.O_DIRECTORY
	}
	fd, err := openat(unix.AT_FDCWD, p, flag, 0)
	if err != nil {
		if errors.Is(err, unix.EACCES) {
			// No read permission (a directory made 0o000): the mode can still be set by
			// name, and Lstat says it is no link.
			if fi, lerr := os.Lstat(p); lerr == nil && fi.Mode()&fs.ModeSymlink == 0 {
				return os.Chmod(p, mode)
			}
		}
		return componentError(p, "chmod", err)
	}
	defer unix.Close(fd)
	if err := unix.Fchmod(fd, uint32(mode.Perm())); err != nil {
		return &fs.PathError{Op: "chmod", Path: p, Err: err}
	}
	return nil
}

// makeReadOnly removes write permission from every file and directory under dir. The
// caller has checked (walkFiles) that the tree holds only regular files and directories.
func makeReadOnly(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		// Directories last would be cleaner, but WalkDir reads a directory's entries
		// before visiting them, so clearing its write bit first does not stop the walk.
		switch {
		case d.IsDir():
			return chmodNoFollow(p, 0o555, true)
		case d.Type().IsRegular():
			return chmodNoFollow(p, 0o444, false)
		}
		return fmt.Errorf("%s is %s, not a regular file or directory", p, describeMode(d.Type()))
	})
}

// removeAll deletes a tree that may have been made read-only. It never follows a link: a
// link (at the top or inside) is removed itself, and its target is not touched.
func removeAll(dir string) error {
	fi, err := os.Lstat(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err == nil && fi.IsDir() {
		// Restore owner write permission on directories so their entries can be unlinked.
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				_ = chmodNoFollow(p, 0o755, true)
			}
			return nil
		})
	}
	// os.RemoveAll unlinks symbolic links instead of descending into them.
	return os.RemoveAll(dir)
}
