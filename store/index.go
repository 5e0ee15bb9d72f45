package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"dmlrun/internal/failpoint"

	"golang.org/x/sys/unix"
)

// Index remembers, per node address of one experiment, what the node's last applied key
// was made of, so that a plan can say why a node runs again. It is a convenience for
// people: losing it loses explanations, never results.
type Index struct {
	Experiment string                `json:"experiment"`
	Nodes      map[string]IndexEntry `json:"nodes"`
}

// IndexEntry is one node's last applied key and what went into it.
type IndexEntry struct {
	Key          string            `json:"key"`
	Stage        string            `json:"stage"`
	StageVersion int               `json:"stage_version"`
	Params       map[string]string `json:"params"` // flattened: "schedule.lr" -> "1e-05"
	Inputs       []InputRef        `json:"inputs"`
	KeyInputs    string            `json:"key_inputs,omitempty"` // the stage's external-content digest (e.g. a dataset folder's)
	Time         time.Time         `json:"time"`
}

func (s *Store) indexPath(experiment string) string {
	sum := sha256.Sum256([]byte(experiment))
	return filepath.Join(s.dir, "index", hex.EncodeToString(sum[:8])+".json")
}

// ReadIndex returns the index of an experiment (identified by any stable string, usually its
// absolute path). A missing or unreadable index (a link there included: it is not
// followed) is an empty one.
func (s *Store) ReadIndex(experiment string) *Index {
	idx := &Index{Experiment: experiment, Nodes: map[string]IndexEntry{}}
	b, err := readIn(s.dir, s.indexPath(experiment))
	if err != nil {
		return idx
	}
	var got Index
	if json.Unmarshal(b, &got) != nil || got.Experiment != experiment || got.Nodes == nil {
		return idx
	}
	return &got
}

// flockWait takes an exclusive flock on f, waiting for it.
func flockWait(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// RecordIndex merges entries into an experiment's index. Concurrent writers are serialised
// with a lock file (index/<id>.json.lock); the index file is replaced atomically through a
// temporary file index/<id>.json.<random>.tmp. While it holds the lock, RecordIndex first
// removes that experiment's temporary files left by writers that crashed.
func (s *Store) RecordIndex(experiment string, entries map[string]IndexEntry) error {
	if len(entries) == 0 {
		return nil
	}
	name := s.indexPath(experiment)
	lf, err := openLockFile(s.dir, name+".lock")
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	defer lf.Close()
	if err := flockWait(lf); err != nil {
		return fmt.Errorf("index: flock %s: %w", lf.Name(), err)
	}
	defer unix.Flock(int(lf.Fd()), unix.LOCK_UN)

	// Under the lock no other writer of this experiment is running: any temporary file of
	// it is a dead writer's. Failing to remove one only leaves it for cache gc.
	if ents, err := readDirIn(s.dir, filepath.Dir(name)); err == nil {
		for _, e := range ents {
			if indexTempOf(e.Name()) == filepath.Base(name) {
				_ = os.Remove(filepath.Join(filepath.Dir(name), e.Name()))
			}
		}
	}

	idx := s.ReadIndex(experiment)
	for addr, e := range entries {
		idx.Nodes[addr] = e
	}
	data, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), filepath.Base(name)+".*.tmp")
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	_, err = tmp.Write(append(data, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = failpoint.Inject("store.index.temp")
	}
	if err == nil {
		err = os.Rename(tmp.Name(), name)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("index %s: %w", name, err)
	}
	return nil
}

// indexTempOf returns the index file name ("<id>.json") a temporary file name
// "<id>.json.<random>.tmp" belongs to, or "".
func indexTempOf(name string) string {
	rest, ok := strings.CutSuffix(name, ".tmp")
	if !ok {
		return ""
	}
	base, random, ok := strings.Cut(rest, ".json.")
	if !ok || len(base) != 16 || !ValidKey(base+strings.Repeat("0", 48)) || random == "" || strings.Contains(random, "/") {
		return ""
	}
	return base + ".json"
}

// RemoveStrayTemps removes the temporary files that writers killed mid-write left in
// index/ and verified/ (with dryRun it only lists them). An index temporary file is
// removed only when its experiment's index lock can be taken without waiting (else a
// running apply is writing it, and it is skipped); temporary files of older dmlrun
// versions (index/index-*.tmp) and of the stat cache (verified/*.tmp, whose loss only
// costs a re-hash) are removed as they are. Symbolic links among them are removed
// themselves. Other *.tmp names are skipped. Paths are relative to the store root.
func (s *Store) RemoveStrayTemps(dryRun bool) (removed []string, skipped []Skipped, err error) {
	remove := func(p string) error {
		if dryRun {
			return nil
		}
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return err
		}
		return nil
	}
	var errs []error
	indexDir := filepath.Join(s.dir, "index")
	ents, err := readDirIn(s.dir, indexDir)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		rel, p := "index/"+e.Name(), filepath.Join(indexDir, e.Name())
		base := indexTempOf(e.Name())
		switch {
		case e.Type()&fs.ModeSymlink != 0, strings.HasPrefix(e.Name(), "index-"):
			if err := remove(p); err != nil {
				errs = append(errs, err)
				continue
			}
		case base != "":
			busy, err := s.withIndexLockNB(filepath.Join(indexDir, base), func() error { return remove(p) })
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", rel, err))
				continue
			}
			if busy {
				skipped = append(skipped, Skipped{rel, "is being written by a running apply (its experiment's index is locked)"})
				continue
			}
		default:
			skipped = append(skipped, Skipped{rel, "is not a name the store makes (left alone)"})
			continue
		}
		removed = append(removed, rel)
	}
	verDir := filepath.Join(s.dir, "verified")
	ents, err = readDirIn(s.dir, verDir)
	if err != nil {
		return removed, skipped, errors.Join(append(errs, err)...)
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		if err := remove(filepath.Join(verDir, e.Name())); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, "verified/"+e.Name())
	}
	return removed, skipped, errors.Join(errs...)
}

// withIndexLockNB runs fn while holding the lock of the index file name, if it can be
// taken without waiting; busy says it could not. A missing lock file means no writer ever
// ran (fn runs without one).
func (s *Store) withIndexLockNB(name string, fn func() error) (busy bool, err error) {
	if _, err := os.Lstat(name + ".lock"); os.IsNotExist(err) {
		return false, fn()
	}
	lf, err := openLockFile(s.dir, name+".lock")
	if err != nil {
		return false, err
	}
	defer lf.Close()
	for {
		err = unix.Flock(int(lf.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if errors.Is(err, unix.EWOULDBLOCK) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("flock %s: %w", lf.Name(), err)
	}
	defer unix.Flock(int(lf.Fd()), unix.LOCK_UN)
	return false, fn()
}
