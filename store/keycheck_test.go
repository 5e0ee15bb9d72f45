package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeKey stands in for pipeline.ManifestKey (the store cannot import pipeline): the key is
// a digest of the stage and its parameter "a"; stage version 1 is the only one it knows.
func fakeKey(m *Manifest) (string, error) {
	if m.StageVersion != 1 {
		return "", &UncheckableError{Reason: fmt.Sprintf("made by stage %s version %d, this dmlrun has 1", m.Stage, m.StageVersion)}
	}
	return testKey(fmt.Sprintf("%s/%v", m.Stage, m.Params["a"])), nil
}

// commitKeyed commits an artifact whose key fakeKey recomputes.
func commitKeyed(t *testing.T, s *Store, a int) (string, *Artifact) {
	t.Helper()
	key := testKey(fmt.Sprintf("t/%d", a))
	txn, err := s.Begin(key, false)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(txn.Dir, "out.txt"), []byte("hello"), 0o644)
	art, err := txn.Commit(&Manifest{Stage: "t", StageVersion: 1, Params: map[string]any{"a": a}})
	if err != nil {
		t.Fatal(err)
	}
	return key, art
}

// editManifest rewrites one field of a stored manifest, as a person with an editor would.
func editManifest(t *testing.T, dir, from, to string) {
	t.Helper()
	p := filepath.Join(dir, ManifestName)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), from) {
		t.Fatalf("manifest has no %q:\n%s", from, b)
	}
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), from, to, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestManifestKeyChecked(t *testing.T) {
	cases := []struct {
		name      string
		from, to  string
		problem   string // damage Verify reports
		notCheck  string // or: why it could not check
		getReason string
	}{
		{"edited params", `"a": 16`, `"a": 17`, "manifest fields hash to key", "", "artifact corrupted: manifest fields hash to key"},
		{"edited stage", `"stage": "t"`, `"stage": "u"`, "manifest fields hash to key", "", "artifact corrupted: manifest fields hash to key"},
		{"other version", `"stage_version": 1`, `"stage_version": 3`, "", "made by stage t version 3, this dmlrun has 1", "manifest does not match this key: made by stage t version 3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t)
			s.ManifestKey = fakeKey
			key, art := commitKeyed(t, s, 16)
			if _, err := s.Get(key); err != nil {
				t.Fatalf("Get before the edit: %v", err)
			}
			editManifest(t, art.Dir, tc.from, tc.to)
			v := s.VerifyArtifact(key)
			if tc.problem != "" && (len(v.Problems) != 1 || !strings.Contains(v.Problems[0], tc.problem)) {
				t.Errorf("Verify problems %q, want one saying %q", v.Problems, tc.problem)
			}
			if tc.notCheck != v.NotChecked || (tc.notCheck != "" && len(v.Problems) != 0) {
				t.Errorf("Verify = %+v, want not checked %q and no damage", v, tc.notCheck)
			}
			_, err := s.Get(key)
			var me *MissError
			if !errors.As(err, &me) || me.Absent || !strings.HasPrefix(me.Reason, tc.getReason) {
				t.Errorf("Get = %v, want a miss %q", err, tc.getReason)
			}
		})
	}
}

// The stat cache lets Get skip hashing files, never the key check: a manifest that lied
// from the start (its stats recorded as verified) is still a miss.
func TestManifestKeyCheckedOnFastPath(t *testing.T) {
	s := openTest(t)
	key, art := commitKeyed(t, s, 5)
	ageRecord(t, s, key)
	if !s.unchangedSinceVerified(key, art.Dir, art.Manifest) {
		t.Fatal("setup: the aged record is not trusted")
	}
	if _, err := s.Get(key); err != nil {
		t.Fatalf("Get without a key check: %v", err)
	}
	s.ManifestKey = func(m *Manifest) (string, error) { return testKey("something else"), nil }
	if _, err := s.Get(key); !IsMiss(err) || !strings.Contains(err.Error(), "manifest fields hash to key") {
		t.Errorf("Get with a key that does not match: %v", err)
	}
	s.ManifestKey = func(m *Manifest) (string, error) { return "", errors.New(`param "a": not an int`) }
	if _, err := s.Get(key); !IsMiss(err) || !strings.Contains(err.Error(), `manifest key material: param "a": not an int`) {
		t.Errorf("Get with key material that does not fit: %v", err)
	}
}

// ageRecord makes the stat record of key look old, so its files are trusted unhashed.
func ageRecord(t *testing.T, s *Store, key string) {
	t.Helper()
	b, err := os.ReadFile(s.statPath(key))
	if err != nil {
		t.Fatal(err)
	}
	var rec statRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	rec.Recorded += int64(time.Hour)
	b, _ = json.Marshal(rec)
	os.WriteFile(s.statPath(key), b, 0o644)
	later := time.Now().Add(time.Hour) // the record file's mtime bounds the record time too
	os.Chtimes(s.statPath(key), later, later)
}
