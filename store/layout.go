package store

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// internalDirs are the store's own folders besides the shard folders; Open makes them.
var internalDirs = []string{"tmp", "locks", "index", "verified"}

// optionalDirs are the store's own folders made only when first used: jobs/ holds the
// Slurm executor's run records (JobsDir).
var optionalDirs = []string{"jobs"}

func isInternalDir(name string) bool {
	for _, d := range append(internalDirs, optionalDirs...) {
		if name == d {
			return true
		}
	}
	return false
}

// JobsDir returns the folder in which a cluster executor keeps its runs' records (the
// Slurm executor: jobs/<run>/), making it on first use. Like the store's other folders it
// must be a real directory: a link or a file there is a *LayoutError. The store knows
// nothing of what is inside; Scan, cache verify and cache gc do not list it as foreign.
func (s *Store) JobsDir() (string, error) {
	p := filepath.Join(s.dir, "jobs")
	if err := os.Mkdir(p, 0o755); err != nil && !os.IsExist(err) {
		return "", fmt.Errorf("jobs folder: %w", err)
	}
	if err := s.ownDir("jobs"); err != nil {
		return "", fmt.Errorf("jobs folder: %w", err)
	}
	return p, nil
}

// isShardName reports whether name is a shard folder's name: two lower-case hex digits.
func isShardName(name string) bool {
	return len(name) == 2 && ValidKey(name+strings.Repeat("0", 62))
}

// LayoutError says that an entry the store needs as its own directory (tmp, locks, index,
// verified or a shard folder) is something else: a symbolic link, a file. The store
// refuses to open rather than follow or replace it.
type LayoutError struct {
	Path    string // absolute
	Problem string // "is a symbolic link (to /data/tmp)", "is a regular file"
	Fix     string // what to do about it
}

func (e *LayoutError) Error() string {
	return fmt.Sprintf("%s %s; %s", e.Path, e.Problem, e.Fix)
}

// checkOwnDir returns a *LayoutError when p exists and is not a real directory.
func checkOwnDir(p string, fi fs.FileInfo) error {
	if fi.Mode()&fs.ModeSymlink != 0 {
		problem := "is a symbolic link"
		if target, err := os.Readlink(p); err == nil {
			problem += " (to " + target + ")"
		}
		return &LayoutError{Path: p, Problem: problem + ", and the store never follows links inside itself (removing or writing through one would touch files outside the store)",
			Fix: fmt.Sprintf("replace it with a real directory (for example: rm %s && mkdir %s; move what the link points at into place first if it is still needed), or point --store at the linked store itself", p, p)}
	}
	if !fi.IsDir() {
		return &LayoutError{Path: p, Problem: "is " + describeMode(fi.Mode()) + ", not a directory",
			Fix: "move it out of the store; the store keeps its own directory there"}
	}
	return nil
}

// ownDir checks that the store's folder name (tmp, locks, index, verified) is still a real
// directory before the store creates a file in it by name: Open checked it, but it may
// have been replaced by a link since.
func (s *Store) ownDir(name string) error {
	p := filepath.Join(s.dir, name)
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	return checkOwnDir(p, fi)
}

// Open opens (creating if needed) the store rooted at dir. dir must be on a local disk or
// a supported shared file system; see the package comment. dir itself may be a symbolic
// link: Open resolves it once, and Dir returns the resolved path. Inside the store nothing
// is followed: Open fails with a *LayoutError when tmp, locks, index, verified, jobs or a
// shard folder (two hex digits) is a symbolic link or not a directory.
func Open(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	if fi, err := os.Stat(real); err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("open store %s: %s is %s, not a directory", dir, real, describeMode(fi.Mode()))
	}
	for _, sub := range internalDirs {
		p := filepath.Join(real, sub)
		if err := os.Mkdir(p, 0o755); err != nil && !os.IsExist(err) {
			return nil, fmt.Errorf("open store %s: %w", dir, err)
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return nil, fmt.Errorf("open store %s: %w", dir, err)
		}
		if err := checkOwnDir(p, fi); err != nil {
			return nil, fmt.Errorf("open store %s: %w", dir, err)
		}
	}
	ents, err := readDirIn(real, real)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	for _, e := range ents {
		if !isShardName(e.Name()) && !slices.Contains(optionalDirs, e.Name()) {
			continue
		}
		p := filepath.Join(real, e.Name())
		fi, err := os.Lstat(p)
		if err != nil {
			return nil, fmt.Errorf("open store %s: %w", dir, err)
		}
		if err := checkOwnDir(p, fi); err != nil {
			return nil, fmt.Errorf("open store %s: %w", dir, err)
		}
	}
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	return &Store{dir: real, host: host, self: currentHolder(host, os.Getenv), Now: time.Now}, nil
}

// Skipped is one entry of the store that a listing did not use, and why. Path is relative
// to the store root, slash-separated; a folder ends in "/".
type Skipped struct {
	Path   string
	Reason string
}

func (sk Skipped) String() string { return sk.Path + " " + sk.Reason }

// JoinSkipped renders skipped entries on one line: "3f/ is a symbolic link; x is ...".
func JoinSkipped(sk []Skipped) string {
	parts := make([]string, len(sk))
	for i, s := range sk {
		parts[i] = s.String()
	}
	return strings.Join(parts, "; ")
}

// Scan lists the keys of all artifact directories in the store, sorted, without verifying
// them, and accounts for every other entry of the root and of the shard folders that it
// did not use: symbolic links (never followed), files, names that are not the store's,
// artifact directories in the wrong shard folder. The store's own folders (tmp, locks,
// index, verified) are not listed in either.
func (s *Store) Scan() (keys []string, skipped []Skipped, err error) {
	tops, err := readDirIn(s.dir, s.dir)
	if err != nil {
		return nil, nil, fmt.Errorf("list store %s: %w", s.dir, err)
	}
	for _, t := range tops {
		name := t.Name()
		typ := t.Type()
		switch {
		case isInternalDir(name):
			if !typ.IsDir() { // replaced after Open
				skipped = append(skipped, Skipped{name + "/", "is " + describeMode(typ) + ", not the store's own folder"})
			}
			continue
		case !isShardName(name):
			what := name
			if typ.IsDir() {
				what += "/"
			}
			skipped = append(skipped, Skipped{what, "is not a store entry (" + describeMode(typ) + " the store did not make; left alone)"})
			continue
		case typ&fs.ModeSymlink != 0:
			skipped = append(skipped, Skipped{name + "/", "is a symbolic link (not followed: artifacts behind it are not checked)"})
			continue
		case !typ.IsDir():
			skipped = append(skipped, Skipped{name, "is " + describeMode(typ) + ", not a shard folder"})
			continue
		}
		ents, err := readDirIn(s.dir, filepath.Join(s.dir, name))
		if err != nil {
			return nil, nil, fmt.Errorf("list store %s: %w", s.dir, err)
		}
		for _, e := range ents {
			p := name + "/" + e.Name()
			et := e.Type()
			switch {
			case et&fs.ModeSymlink != 0:
				skipped = append(skipped, Skipped{p, "is a symbolic link (not followed)"})
			case !ValidKey(e.Name()):
				skipped = append(skipped, Skipped{p, "is not an artifact (its name is not a key; left alone)"})
			case !strings.HasPrefix(e.Name(), name):
				skipped = append(skipped, Skipped{p, "is in the wrong shard folder (its key belongs in " + e.Name()[:2] + "/; left alone)"})
			case !et.IsDir():
				skipped = append(skipped, Skipped{p, "is " + describeMode(et) + ", not an artifact directory"})
			default:
				keys = append(keys, e.Name())
			}
		}
	}
	return keys, skipped, nil
}

// Keys lists the keys of all artifact directories in the store, sorted. It does not verify
// them; Scan also says which entries it passed over.
func (s *Store) Keys() ([]string, error) {
	keys, _, err := s.Scan()
	return keys, err
}
