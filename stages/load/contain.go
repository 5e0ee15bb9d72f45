package load

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// This file confines every file the readers, the digest and the decoder open to the
// dataset root. Paths come from the kind's layout (fixed names), from folder listings and
// from index files (Ebay_*.txt rows, emoji.json "image" fields); all of them are resolved
// here, and a path that leaves the root is an *EscapeError:
//
//   - lexically, a path taken from an index file must be relative and have no ".."
//     component (refused while parsing, with file:line);
//   - on disk, the path with every symlink resolved must lie under the root with every
//     symlink resolved (the root itself may be a symlink). A symlink that stays inside the
//     root is followed.
//
// Directories are resolved once each (filepath.EvalSymlinks, cached); a file's last
// component is Lstat-ed, and a symlink there is resolved and checked. The file is then
// opened with O_NOFOLLOW (a last component swapped for a symlink after the check fails to
// open instead of being followed) and O_NONBLOCK (a FIFO cannot block the open), and must
// be a regular file. What this does not stop: a directory of the tree replaced by a
// symlink between its resolution and the open, by someone racing dmlrun on a folder they
// can write; the threat it addresses is a hostile dataset archive or index file.

// EscapeError is a dataset path that leaves the dataset root: named by an index file with
// ".." or as an absolute path, or resolving through a symlink to a place outside the root.
// Nothing at such a path is read.
type EscapeError struct {
	Root   string // the dataset root (absolute, as given)
	Where  string // the index file and line that named the path ("file:line"), or ""
	Field  string // for a path refused as written: what it is ("path", "image"); "" otherwise
	Path   string // the path relative to the root, as named
	Reason string // why it leaves the root
}

func (e *EscapeError) Error() string {
	s := e.Path
	if e.Field != "" {
		s = fmt.Sprintf("%s %q", e.Field, e.Path)
	}
	s += " " + e.Reason
	if e.Where != "" {
		s = e.Where + ": " + s
	}
	return s + "; dataset files must stay inside the dataset root " + e.Root + " (symlinks may point only within it)"
}

// lexicalEscape says why a slash-separated path from an index file cannot name a file
// inside the root, or "" when it can.
func lexicalEscape(p string) string {
	switch {
	case p == "":
		return "is empty"
	case strings.HasPrefix(p, "/") || filepath.IsAbs(p):
		return "is absolute"
	case strings.IndexByte(p, 0) >= 0:
		return "contains a NUL byte"
	}
	for _, c := range strings.Split(p, "/") {
		if c == ".." {
			return `has a ".." component`
		}
	}
	return ""
}

// datasetRoot resolves paths relative to a dataset root and opens files under it.
type datasetRoot struct {
	abs  string // the root as given, made absolute: messages and the digest's relative names
	real string // abs with every symlink resolved

	mu   sync.Mutex
	dirs map[string]dirResolution // relative directory (OS separators) -> resolution
}

type dirResolution struct {
	real string
	err  error
}

// openDatasetRoot resolves an absolute root; it must be a directory.
func openDatasetRoot(abs string) (*datasetRoot, error) {
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("dataset root: %w", err)
	}
	st, err := os.Stat(real)
	if err != nil {
		return nil, fmt.Errorf("dataset root: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("dataset root %s is not a directory", abs)
	}
	return &datasetRoot{abs: abs, real: real, dirs: map[string]dirResolution{}}, nil
}

// within reports whether the resolved path p is r's real root or below it.
func (r *datasetRoot) within(p string) bool {
	if r.real == string(filepath.Separator) {
		return true
	}
	return p == r.real || strings.HasPrefix(p, r.real+string(filepath.Separator))
}

// named is the path a user would recognise for rel: under the root as given.
func (r *datasetRoot) named(rel string) string { return filepath.Join(r.abs, filepath.FromSlash(rel)) }

// renamePathError makes an *fs.PathError name its path under the root as given rather
// than in resolved form (errors.Is still sees the cause); op, when not "", replaces the
// failed operation's name.
func (r *datasetRoot) renamePathError(err error, op string) error {
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		return err
	}
	p := pe.Path
	if rest, ok := strings.CutPrefix(p, r.real); ok && (rest == "" || rest[0] == filepath.Separator) {
		p = r.abs + rest
	}
	if op == "" {
		op = pe.Op
	}
	return &fs.PathError{Op: op, Path: p, Err: pe.Err}
}

// dir resolves a relative directory (slash-separated, already free of ".."), once.
func (r *datasetRoot) dir(rel string) (string, error) {
	rel = filepath.Clean(filepath.FromSlash(rel))
	if rel == "." {
		return r.real, nil
	}
	r.mu.Lock()
	d, ok := r.dirs[rel]
	r.mu.Unlock()
	if ok {
		return d.real, d.err
	}
	real, err := filepath.EvalSymlinks(filepath.Join(r.real, rel))
	switch {
	case err != nil:
		err = r.renamePathError(err, "open")
	case !r.within(real):
		err = &EscapeError{Root: r.abs, Path: filepath.ToSlash(rel), Reason: "resolves through a symlink to " + real}
		real = ""
	}
	r.mu.Lock()
	r.dirs[rel] = dirResolution{real, err}
	r.mu.Unlock()
	return real, err
}

// resolve maps a slash-separated path relative to the root to the file it names, with
// every symlink resolved, and that file's stat. A path outside the root is an
// *EscapeError; a missing file an error satisfying errors.Is(err, fs.ErrNotExist).
func (r *datasetRoot) resolve(rel string) (string, os.FileInfo, error) {
	if why := lexicalEscape(rel); why != "" {
		return "", nil, &EscapeError{Root: r.abs, Field: "path", Path: rel, Reason: why}
	}
	dir, base := "", rel
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		dir, base = rel[:i], rel[i+1:]
	}
	if base == "" || base == "." {
		return "", nil, fmt.Errorf("%s: not a file name", r.named(rel))
	}
	rd, err := r.dir(dir)
	if err != nil {
		var ee *EscapeError
		if errors.As(err, &ee) {
			return "", nil, &EscapeError{Root: r.abs, Path: rel, Reason: "is in " + ee.Path + ", which " + ee.Reason}
		}
		return "", nil, err
	}
	p := filepath.Join(rd, base)
	fi, err := os.Lstat(p)
	if err != nil {
		return "", nil, r.renamePathError(err, "")
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		t, err := filepath.EvalSymlinks(p)
		if err != nil {
			return "", nil, r.renamePathError(err, "")
		}
		if !r.within(t) {
			return "", nil, &EscapeError{Root: r.abs, Path: rel, Reason: "is a symlink to " + t}
		}
		if fi, err = os.Stat(t); err != nil {
			return "", nil, r.renamePathError(err, "")
		}
		p = t
	}
	return p, fi, nil
}

// openResolved opens a path returned by resolve for reading: without following a symlink
// in its last component, without blocking on a FIFO, and only if it is a regular file.
// name is the path for messages.
func openResolved(p, name string) (*os.File, os.FileInfo, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = &fs.PathError{Op: pe.Op, Path: name, Err: pe.Err}
		}
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%s is not a regular file", name)
	}
	return f, st, nil
}

// readFile reads a file under the root (slash-separated relative path).
func (r *datasetRoot) readFile(rel string) ([]byte, error) {
	p, fi, err := r.resolve(rel)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", r.named(rel))
	}
	return readResolved(p, r.named(rel))
}

// readResolved reads a whole regular file opened with openResolved.
func readResolved(p, name string) ([]byte, error) {
	f, st, err := openResolved(p, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, 0, st.Size()+512)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // the file grew since Stat: make room
		}
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
	}
}

// exists reports whether a relative path names something (a symlink out of the root is
// reported as existing: resolving it later gives the *EscapeError).
func (r *datasetRoot) exists(rel string) bool {
	rd, err := r.dir(filepath.Dir(filepath.FromSlash(rel)))
	if err != nil {
		var ee *EscapeError
		return errors.As(err, &ee)
	}
	_, err = os.Lstat(filepath.Join(rd, filepath.Base(rel)))
	return err == nil
}

// readDirNames lists a directory under the root (relative, slash-separated; "" or "." for
// the root), skipping names that contain "._" (macOS resource forks; the original ignores
// them too). dirs selects directories or non-directories; a symlink counts as what it
// points to, and one that points out of the root is an *EscapeError (a dangling one
// counts as a file, so reading it later reports it missing).
func (r *datasetRoot) readDirNames(rel string, dirs bool) ([]string, error) {
	rd, err := r.dir(rel)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(rd)
	if err != nil {
		return nil, r.renamePathError(err, "")
	}
	var out []string
	for _, e := range ents {
		if strings.Contains(e.Name(), "._") {
			continue
		}
		isDir := e.IsDir()
		if e.Type()&os.ModeSymlink != 0 {
			er := e.Name()
			if rel != "" && rel != "." {
				er = rel + "/" + er
			}
			_, fi, err := r.resolve(er)
			var ee *EscapeError
			switch {
			case errors.As(err, &ee):
				return nil, err
			case err == nil:
				isDir = fi.IsDir()
			}
		}
		if isDir == dirs {
			out = append(out, e.Name())
		}
	}
	return out, nil
}
