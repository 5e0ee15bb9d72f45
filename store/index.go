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

// lockIndex takes the lease of an index file (name.lock), waiting while another writer
// holds it. Writers hold it for the milliseconds of a read, merge and rename, so it has no
// heartbeat and is stale after briefLeaseTimeout; a writer still in the way after
// LeaseTimeout (a live but stopped process) makes it give up with an error.
func (s *Store) lockIndex(name string) (*lease, error) {
	if err := s.ownDir("index"); err != nil {
		return nil, err
	}
	delay, waited := LockPollInterval, time.Duration(0)
	for {
		l, err := s.acquire(name+".lock", leaseOpts{timeout: s.briefTimeout()})
		var he *heldError
		if !errors.As(err, &he) {
			return l, err
		}
		if waited > s.leaseTimeout() {
			return nil, fmt.Errorf("%s is still locked by %s after %s (%s); entries not recorded (results are not affected)", name, he.holder, waited.Round(time.Second), he.why)
		}
		<-s.afterFn(delay)
		waited += delay
		delay = min(2*delay, lockPollMax)
	}
}

// RecordIndex merges entries into an experiment's index. Concurrent writers, on one
// machine or several, are serialised by a lease on index/<id>.json.lock (taken like a
// key's lock); the index file is replaced atomically through a temporary file
// index/<id>.json.<random>.tmp renamed over it, so a reader sees the old index or the new
// one, never a mix. While it holds the lease, RecordIndex first removes that experiment's
// temporary files left by writers that crashed.
func (s *Store) RecordIndex(experiment string, entries map[string]IndexEntry) error {
	if len(entries) == 0 {
		return nil
	}
	name := s.indexPath(experiment)
	l, err := s.lockIndex(name)
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	defer l.release()

	// Under the lease no other writer of this experiment is running: any temporary file
	// of it is a dead writer's. Failing to remove one only leaves it for cache gc.
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
// index/ and verified/, and what killed lease takers and breakers left in locks/ and
// index/ (with dryRun it only lists them). An index temporary file is removed only when
// its experiment's index lease can be taken without waiting (else a running apply is
// writing it, and it is skipped); temporary files of older dmlrun versions
// (index/index-*.tmp) and of the stat cache (verified/*.tmp, whose loss only costs a
// re-hash) are removed as they are. A lease's temporary or moved-aside file
// (<lease>.new-*, <lease>.broken-*) is removed once it is older than briefLeaseTimeout,
// a breaker's claim (<lease>.break-*) once it is stale. Symbolic links among them are
// removed themselves. Other *.tmp names are skipped. Paths are relative to the store
// root.
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
	for _, sub := range []string{"locks", "index"} {
		r, sk, err := s.removeLeaseDebris(sub, dryRun)
		removed, skipped = append(removed, r...), append(skipped, sk...)
		if err != nil {
			errs = append(errs, err)
		}
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

// withIndexLockNB runs fn while holding the lease of the index file name, if it can be
// taken without waiting; busy says it could not.
func (s *Store) withIndexLockNB(name string, fn func() error) (busy bool, err error) {
	l, err := s.acquire(name+".lock", leaseOpts{timeout: s.briefTimeout()})
	var he *heldError
	if errors.As(err, &he) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	defer l.release()
	return false, fn()
}

// leaseDebrisKind classifies a name in locks/ or index/: "new" for a lease's temporary
// file (<lease>.new-<16 hex>), "broken" for a lease moved aside by a breaker
// (<lease>.broken-<16 hex>), "claim" for a breaker's claim (<lease>.break-<16 hex>), or "".
func leaseDebrisKind(name string) string {
	if len(name) < 17 {
		return ""
	}
	rest, suffix := name[:len(name)-16], name[len(name)-16:]
	if strings.Trim(suffix, "0123456789abcdef") != "" {
		return ""
	}
	for _, k := range []struct{ sep, kind string }{{".new-", "new"}, {".broken-", "broken"}, {".break-", "claim"}} {
		if base, ok := strings.CutSuffix(rest, k.sep); ok && strings.Contains(base, ".lock") {
			return k.kind
		}
	}
	return ""
}

// removeLeaseDebris removes (or with dryRun lists) the lease debris in one of the store's
// folders; see RemoveStrayTemps.
func (s *Store) removeLeaseDebris(sub string, dryRun bool) (removed []string, skipped []Skipped, err error) {
	dir := filepath.Join(s.dir, sub)
	ents, err := readDirIn(s.dir, dir)
	if err != nil {
		return nil, nil, err
	}
	var errs []error
	for _, e := range ents {
		kind := leaseDebrisKind(e.Name())
		if kind == "" {
			continue
		}
		rel, p := sub+"/"+e.Name(), filepath.Join(dir, e.Name())
		switch {
		case e.Type()&fs.ModeSymlink != 0:
			// Never the store's own: removing the link leaves its target alone.
		case kind == "claim":
			ls, err := s.readLease(p)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if stale, why := s.judge(ls, s.briefTimeout()); !stale {
				skipped = append(skipped, Skipped{rel, "is the claim of a process breaking a stale lease now (" + ls.info().String() + "; " + why + ")"})
				continue
			}
			if dryRun {
				break
			}
			// Taken over like any stale lease (so two cleaners cannot race), then
			// released, which removes it.
			l, err := s.acquire(p, leaseOpts{timeout: s.briefTimeout(), depth: 1})
			var he *heldError
			if errors.As(err, &he) {
				skipped = append(skipped, Skipped{rel, "is the claim of a process breaking a stale lease now (" + he.holder.String() + ")"})
				continue
			} else if err != nil {
				errs = append(errs, err)
				continue
			}
			l.release()
			removed = append(removed, rel)
			continue
		default:
			fi, err := e.Info()
			if err != nil {
				continue // removed meanwhile
			}
			if age := s.now().Sub(fi.ModTime()); age <= s.briefTimeout() {
				skipped = append(skipped, Skipped{rel, "belongs to a lease being taken or broken now (" + max(age, 0).Round(time.Second).String() + " old)"})
				continue
			}
		}
		if !dryRun {
			if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
				errs = append(errs, err)
				continue
			}
		}
		removed = append(removed, rel)
	}
	return removed, skipped, errors.Join(errs...)
}
