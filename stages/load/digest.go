package load

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
)

// StatCacheEnv overrides the stat cache location; "off" disables it.
const StatCacheEnv = "DMLRUN_STATCACHE"

// statCache remembers file digests by (absolute path, size, mtime) so unchanged files are
// not re-read when a dataset's digest is computed again. It lives in the user's cache
// directory ($XDG_CACHE_HOME/dmlrun/statcache.json by default). It is a cache: a missing,
// unreadable or corrupt file only costs re-hashing, and concurrent writers may drop each
// other's new entries (last rename wins). Like any stat cache it trusts that a file
// rewritten with the same size within one mtime tick is unchanged.
type statCache struct {
	path    string
	mu      sync.Mutex
	entries map[string]statEntry
	dirty   bool
}

type statEntry struct {
	Size    int64  `json:"size"`
	MtimeNs int64  `json:"mtime_ns"`
	SHA256  string `json:"sha256"`
}

// defaultStatCachePath returns the stat cache file, or "" when disabled or unknown.
func defaultStatCachePath() string {
	if p := os.Getenv(StatCacheEnv); p != "" {
		if p == "off" {
			return ""
		}
		return p
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "dmlrun", "statcache.json")
}

func openStatCache(path string) *statCache {
	c := &statCache{path: path, entries: map[string]statEntry{}}
	if path == "" {
		return c
	}
	if b, err := os.ReadFile(path); err == nil {
		if json.Unmarshal(b, &c.entries) != nil {
			c.entries = map[string]statEntry{} // corrupt cache: start over
		}
	}
	return c
}

func (c *statCache) lookup(abs string, st os.FileInfo) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[abs]
	if ok && e.Size == st.Size() && e.MtimeNs == st.ModTime().UnixNano() {
		return e.SHA256, true
	}
	return "", false
}

func (c *statCache) store(abs string, st os.FileInfo, sum string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[abs] = statEntry{Size: st.Size(), MtimeNs: st.ModTime().UnixNano(), SHA256: sum}
	c.dirty = true
}

// save writes the cache atomically; failures are ignored (it is only a cache) but
// returned for logging.
func (c *statCache) save() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.path == "" || !c.dirty {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o755); err != nil {
		return err
	}
	b, err := json.Marshal(c.entries)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(c.path), ".statcache*")
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), c.path)
}

// fileDigest hashes one file, through the cache.
func (c *statCache) fileDigest(abs string) (size int64, sum string, hit bool, err error) {
	st, err := os.Stat(abs)
	if err != nil {
		return 0, "", false, err
	}
	if !st.Mode().IsRegular() {
		return 0, "", false, fmt.Errorf("%s is not a regular file", abs)
	}
	if s, ok := c.lookup(abs, st); ok {
		return st.Size(), s, true, nil
	}
	f, err := os.Open(abs)
	if err != nil {
		return 0, "", false, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", false, fmt.Errorf("reading %s: %w", abs, err)
	}
	if n != st.Size() {
		return 0, "", false, fmt.Errorf("%s changed while it was read", abs)
	}
	sum = hex.EncodeToString(h.Sum(nil))
	c.store(abs, st, sum)
	return n, sum, false, nil
}

// digestStats counts how the digest was obtained.
type digestStats struct {
	Files, CacheHits int
	Bytes            int64
	Sums             map[string]string // relative path -> SHA-256 hex of its contents
}

// datasetDigest is SHA-256 over the sorted list of (relative path, size, SHA-256 of
// contents) of every file the listing reads: images (after subset) and the extra files
// (info files, emoji.json, IDX files). It is written "sha256:<hex>".
func datasetDigest(ctx context.Context, root string, l *listing, cache *statCache, onFile func()) (string, digestStats, error) {
	seen := map[string]bool{}
	var rels []string
	add := func(r string) {
		if !seen[r] {
			seen[r] = true
			rels = append(rels, r)
		}
	}
	for _, r := range l.extra {
		add(r)
	}
	for _, s := range l.splits {
		for _, c := range s.classes {
			for _, sm := range c.samples {
				if sm.path != "" {
					add(sm.rel)
				}
			}
		}
	}
	sort.Strings(rels)
	type res struct {
		size int64
		sum  string
		hit  bool
		err  error
	}
	out := make([]res, len(rels))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < runtime.NumCPU(); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := ctx.Err(); err != nil {
					out[i].err = err
					continue
				}
				abs, _ := filepath.Abs(filepath.Join(root, filepath.FromSlash(rels[i])))
				var r res
				r.size, r.sum, r.hit, r.err = cache.fileDigest(abs)
				out[i] = r
				if onFile != nil {
					onFile()
				}
			}
		}()
	}
	for i := range rels {
		next <- i
	}
	close(next)
	wg.Wait()
	h := sha256.New()
	io.WriteString(h, "dmlrun dataset digest v1\n")
	st := digestStats{Sums: make(map[string]string, len(rels))}
	for i, r := range out {
		if r.err != nil {
			if ctx.Err() != nil {
				return "", st, ctx.Err()
			}
			return "", st, fmt.Errorf("digest: %w", r.err)
		}
		io.WriteString(h, rels[i]+"\x00"+strconv.FormatInt(r.size, 10)+"\x00"+r.sum+"\n")
		st.Sums[rels[i]] = r.sum
		st.Files++
		st.Bytes += r.size
		if r.hit {
			st.CacheHits++
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), st, nil
}
