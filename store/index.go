package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

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
// absolute path). A missing or unreadable index is an empty one.
func (s *Store) ReadIndex(experiment string) *Index {
	idx := &Index{Experiment: experiment, Nodes: map[string]IndexEntry{}}
	b, err := os.ReadFile(s.indexPath(experiment))
	if err != nil {
		return idx
	}
	var got Index
	if json.Unmarshal(b, &got) != nil || got.Experiment != experiment || got.Nodes == nil {
		return idx
	}
	return &got
}

// RecordIndex merges entries into an experiment's index. Concurrent writers are serialised
// with a lock file; the index file is replaced atomically.
func (s *Store) RecordIndex(experiment string, entries map[string]IndexEntry) error {
	if len(entries) == 0 {
		return nil
	}
	name := s.indexPath(experiment)
	lf, err := os.OpenFile(name+".lock", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	defer lf.Close()
	for {
		err = unix.Flock(int(lf.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("index: flock: %w", err)
	}
	defer unix.Flock(int(lf.Fd()), unix.LOCK_UN)

	idx := s.ReadIndex(experiment)
	for addr, e := range entries {
		idx.Nodes[addr] = e
	}
	data, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), "index-*.tmp")
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
		err = os.Rename(tmp.Name(), name)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("index %s: %w", name, err)
	}
	return nil
}
