package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// MinKeyPrefix is the fewest hex digits Resolve takes. Every command prints 12; 8 (32 bits)
// is short enough to type and long enough that a prefix is unique in any store of
// reasonable size (two of 10,000 keys share their first 8 digits with probability about 1%),
// and a shorter string is more likely a typo than a key.
const MinKeyPrefix = 8

// PrefixError is a key prefix that names no artifact, or several.
type PrefixError struct {
	Prefix     string
	Store      string   // the store's root
	Candidates []string // the matching keys, sorted; none when nothing matched
}

func (e *PrefixError) Error() string {
	if len(e.Candidates) == 0 {
		return fmt.Sprintf("no artifact in store %s has a key starting with %s", e.Store, e.Prefix)
	}
	return fmt.Sprintf("key prefix %s is ambiguous: %d artifacts match (%s); give more digits",
		e.Prefix, len(e.Candidates), strings.Join(e.Shortest(), ", "))
}

// Shortest renders the candidates as prefixes long enough to tell them apart (at least 12
// digits, the length commands print).
func (e *PrefixError) Shortest() []string {
	n := 12
	for i := 1; i < len(e.Candidates); i++ {
		a, b := e.Candidates[i-1], e.Candidates[i]
		c := 0
		for c < len(a) && c < len(b) && a[c] == b[c] {
			c++
		}
		n = max(n, min(c+1, len(a)))
	}
	out := make([]string, len(e.Candidates))
	for i, k := range e.Candidates {
		out[i] = k[:min(n, len(k))]
	}
	return out
}

// CheckKeyPrefix says why s cannot be a key prefix (nil when it can): MinKeyPrefix to 64
// lower-case hex digits.
func CheckKeyPrefix(s string) error {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return fmt.Errorf("%q is not a content key or key prefix (%d to 64 lower-case hex digits)", s, MinKeyPrefix)
		}
	}
	switch {
	case len(s) < MinKeyPrefix:
		return fmt.Errorf("key prefix %q is too short: give at least %d hex digits (the 12 every command prints will do)", s, MinKeyPrefix)
	case len(s) > 64:
		return fmt.Errorf("%q is longer than a content key (64 hex digits)", s)
	}
	return nil
}

// Resolve returns the key of the one artifact directory whose key starts with prefix
// (CheckKeyPrefix's form; a full key resolves to itself when its artifact is there). None
// or several matching is a *PrefixError. It reads only the prefix's shard folder, follows
// no symbolic link and verifies nothing: Get and VerifyArtifact check what it returns.
func (s *Store) Resolve(prefix string) (string, error) {
	if err := CheckKeyPrefix(prefix); err != nil {
		return "", err
	}
	shard := filepath.Join(s.dir, prefix[:2])
	fi, err := os.Lstat(shard)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", &PrefixError{Prefix: prefix, Store: s.dir}
	case err != nil:
		return "", fmt.Errorf("resolve key prefix %s: %w", prefix, err)
	case !fi.IsDir():
		return "", fmt.Errorf("resolve key prefix %s: %s is %s, not a shard folder", prefix, shard, describeMode(fi.Mode()))
	}
	ents, err := readDirIn(s.dir, shard)
	if err != nil {
		return "", fmt.Errorf("resolve key prefix %s: %w", prefix, err)
	}
	var keys []string // sorted: readDirIn sorts by name
	for _, e := range ents {
		if k := e.Name(); ValidKey(k) && strings.HasPrefix(k, prefix) && e.Type().IsDir() {
			keys = append(keys, k)
		}
	}
	if len(keys) != 1 {
		return "", &PrefixError{Prefix: prefix, Store: s.dir, Candidates: keys}
	}
	return keys[0], nil
}
