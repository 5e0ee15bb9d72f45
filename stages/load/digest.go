package load

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// StatCacheEnv overrides the stat cache location; "off" disables it.
const StatCacheEnv = "DMLRUN_STATCACHE"

// statCache remembers file digests by absolute path with the file's size, mtime, ctime and
// inode, so unchanged files are not re-read when a dataset's digest is computed again
// (every plan does, since the digest is part of the dataset node's key). It lives in the
// user's cache directory ($XDG_CACHE_HOME/dmlrun/statcache.json by default). It is a cache:
// a missing, unreadable or corrupt file only costs re-hashing, and concurrent writers may
// drop each other's new entries (last rename wins).
//
// Why more than (size, mtime): tools that copy files with their times (cp -p, rsync -a,
// tar) can give a changed file the old size and mtime, but not the old ctime and inode,
// which users cannot set. File times are coarse (one kernel tick), so a file written in
// the same tick just after it was hashed would keep its ctime ("racy git"): an entry is
// trusted only when the file's ctime is more than racyWindow older than the moment its
// digest was taken; other files are re-hashed, and the entry made then is trusted later.
type statCache struct {
	path    string
	mu      sync.Mutex
	entries map[string]statEntry
	dirty   bool
}

type statEntry struct {
	Size     int64  `json:"size"`
	MtimeNs  int64  `json:"mtime_ns"`
	CtimeNs  int64  `json:"ctime_ns"`
	Ino      uint64 `json:"ino"`
	Recorded int64  `json:"recorded_ns"` // wall clock just before the file was stat-ed and read
	SHA256   string `json:"sha256"`
}

// racyWindow: a cache entry is trusted only for a file whose ctime is this much older than
// the entry's Recorded time (a variable so tests need not wait).
var racyWindow = 2 * time.Second

// fileID is the part of a file's stat that the cache compares.
type fileID struct {
	size, mtime, ctime int64
	ino                uint64
}

func idOf(st os.FileInfo) fileID {
	id := fileID{size: st.Size(), mtime: st.ModTime().UnixNano()}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		id.ctime = sys.Ctim.Sec*1e9 + sys.Ctim.Nsec
		id.ino = sys.Ino
	}
	return id
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

func (c *statCache) lookup(abs string, id fileID) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[abs]
	if ok && e.Size == id.size && e.MtimeNs == id.mtime && e.CtimeNs == id.ctime && e.Ino == id.ino &&
		id.ctime != 0 && id.ctime < e.Recorded-int64(racyWindow) {
		return e.SHA256, true
	}
	return "", false
}

func (c *statCache) store(abs string, id fileID, recorded time.Time, sum string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[abs] = statEntry{Size: id.size, MtimeNs: id.mtime, CtimeNs: id.ctime, Ino: id.ino,
		Recorded: recorded.UnixNano(), SHA256: sum}
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

// fileDigest hashes one file of the dataset (rel, slash-separated, relative to the
// root), through the cache. It returns the resolved path it read: the decoder reads that
// path, so it reads the file that was digested and checked to be inside the root.
func (c *statCache) fileDigest(r *datasetRoot, rel string) (real string, size int64, sum string, hit bool, err error) {
	recorded := time.Now() // before the stat: see racyWindow
	name := r.named(rel)
	real, st, err := r.resolve(rel)
	if err != nil {
		return "", 0, "", false, err
	}
	if !st.Mode().IsRegular() {
		return "", 0, "", false, fmt.Errorf("%s is not a regular file", name)
	}
	id := idOf(st)
	if s, ok := c.lookup(real, id); ok {
		return real, st.Size(), s, true, nil
	}
	f, fst, err := openResolved(real, name)
	if err != nil {
		return "", 0, "", false, err
	}
	defer f.Close()
	if idOf(fst) != id {
		return "", 0, "", false, fmt.Errorf("%s changed while it was read", name)
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, "", false, fmt.Errorf("reading %s: %w", name, err)
	}
	if n != st.Size() {
		return "", 0, "", false, fmt.Errorf("%s changed while it was read", name)
	}
	sum = hex.EncodeToString(h.Sum(nil))
	c.store(real, id, recorded, sum)
	return real, n, sum, false, nil
}

// digestStats counts how the digest was obtained.
type digestStats struct {
	Files, CacheHits int
	Bytes            int64
	Sums             map[string]string // relative path -> SHA-256 hex of its contents
	Real             map[string]string // relative path -> the resolved path that was read
}

// datasetDigest is SHA-256 over the sorted list of (relative path, size, SHA-256 of
// contents) of every file the listing reads: images (after subset) and the extra files
// (info files, emoji.json, IDX files). It is written "sha256:<hex>". Every file is
// resolved inside the listing's root (a path that leaves it is an *EscapeError, named
// with the index file row that listed it) before anything is read.
func datasetDigest(ctx context.Context, l *listing, cache *statCache, onFile func()) (string, digestStats, error) {
	where := map[string]string{} // rel -> index file row that named it ("" if none)
	var rels []string
	add := func(r, w string) {
		if _, ok := where[r]; !ok {
			where[r] = w
			rels = append(rels, r)
		}
	}
	for _, r := range l.extra {
		add(r, "")
	}
	for _, s := range l.splits {
		for _, c := range s.classes {
			for _, sm := range c.samples {
				if sm.path != "" {
					add(sm.rel, sm.where)
				}
			}
		}
	}
	sort.Strings(rels)
	type res struct {
		real string
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
				var r res
				r.real, r.size, r.sum, r.hit, r.err = cache.fileDigest(l.root, rels[i])
				var ee *EscapeError
				if errors.As(r.err, &ee) && ee.Where == "" && where[rels[i]] != "" {
					e := *ee
					e.Where = where[rels[i]]
					r.err = &e
				}
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
	st := digestStats{Sums: make(map[string]string, len(rels)), Real: make(map[string]string, len(rels))}
	for i, r := range out {
		if r.err != nil {
			if ctx.Err() != nil {
				return "", st, ctx.Err()
			}
			return "", st, fmt.Errorf("digest: %w", r.err)
		}
		io.WriteString(h, rels[i]+"\x00"+strconv.FormatInt(r.size, 10)+"\x00"+r.sum+"\n")
		st.Sums[rels[i]] = r.sum
		st.Real[rels[i]] = r.real
		st.Files++
		st.Bytes += r.size
		if r.hit {
			st.CacheHits++
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), st, nil
}
