package store

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// The stat cache lets Get skip re-hashing an artifact whose files have not been touched
// since they were last hashed in full: for each file (and the manifest) it records size,
// mtime, ctime and inode at that time. Any write to a file changes its ctime, which users
// cannot set, so a file edited in place, replaced or chmod-ed is re-hashed. What it cannot
// see is silent media corruption (bit rot) that bypasses the file system; `cache verify`
// (Store.Verify) always re-hashes everything for that. Plan and apply read every cached
// artifact, and re-hashing a many-gigabyte prepared dataset on every plan would make plan
// slow, which is why this cache exists.
//
// File times have coarse granularity (a kernel tick, or a second on some file systems), so
// a write just after the record could keep the recorded ctime ("racy git"). A record is
// trusted only for files whose ctime is more than racyWindow older than the record itself;
// others are re-hashed, and the new record made then is trusted next time. The record time
// is the real clock, not Store.Now, because it is compared with file system times; and
// since on a shared file system those come from the file server's clock, the record
// file's own mtime (stamped by that same clock when the record was written) bounds it
// too: a client clock running ahead of the server's cannot make a racy record trusted.
//
// Several processes, on several machines, may write one record at once: each writes a
// whole file and renames it into place, so the last one wins, and any record describes
// the stats of files its writer hashed. A record that describes other files (an artifact
// replaced meanwhile) never matches their stats, and only costs a re-hash.

const racyWindow = 2 * time.Second

type statRecord struct {
	Recorded int64      `json:"recorded_ns"`
	Files    []fileStat `json:"files"`
}

type fileStat struct {
	Path  string `json:"path"`
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtime_ns"`
	Ctime int64  `json:"ctime_ns"`
	Ino   uint64 `json:"ino"`
}

func (s *Store) statPath(key string) string {
	return filepath.Join(s.dir, "verified", key+".json")
}

func statOf(dir, rel string) (fileStat, bool) {
	fi, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil || !fi.Mode().IsRegular() {
		return fileStat{}, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileStat{}, false
	}
	return fileStat{Path: rel, Size: fi.Size(), Mtime: fi.ModTime().UnixNano(),
		Ctime: st.Ctim.Sec*1e9 + st.Ctim.Nsec, Ino: st.Ino}, true
}

// statsOf returns the stats of the manifest and of every listed file, in that order.
func statsOf(dir string, m *Manifest) ([]fileStat, bool) {
	out := make([]fileStat, 0, len(m.Files)+1)
	for _, rel := range append([]string{ManifestName}, filePaths(m)...) {
		st, ok := statOf(dir, rel)
		if !ok {
			return nil, false
		}
		out = append(out, st)
	}
	return out, true
}

func filePaths(m *Manifest) []string {
	out := make([]string, len(m.Files))
	for i, f := range m.Files {
		out[i] = f.Path
	}
	return out
}

// unchangedSinceVerified reports whether the artifact's files all have the stats recorded
// at their last full verification.
func (s *Store) unchangedSinceVerified(key, dir string, m *Manifest) bool {
	f, err := openRegularIn(s.dir, s.statPath(key))
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	var rec statRecord
	if json.NewDecoder(io.LimitReader(f, maxSmallFile)).Decode(&rec) != nil {
		return false
	}
	now, ok := statsOf(dir, m)
	if !ok || len(now) != len(rec.Files) {
		return false
	}
	trusted := min(rec.Recorded, fi.ModTime().UnixNano()) - int64(racyWindow)
	for i := range now {
		if now[i] != rec.Files[i] || now[i].Ctime > trusted {
			return false
		}
	}
	return true
}

// recordVerified remembers the artifact's file stats after a full verification. Failing
// to write the record only costs a re-hash next time.
func (s *Store) recordVerified(key, dir string, m *Manifest) {
	stats, ok := statsOf(dir, m)
	if !ok {
		return
	}
	b, err := json.Marshal(statRecord{Recorded: time.Now().UnixNano(), Files: stats})
	if err != nil {
		return
	}
	if s.ownDir("verified") != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.statPath(key)), key+".*.tmp")
	if err != nil {
		return
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), s.statPath(key))
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
}

func (s *Store) forgetVerified(key string) { os.Remove(s.statPath(key)) }
