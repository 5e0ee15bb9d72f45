package store

import (
	"os"
	"path/filepath"
	"testing"
)

func TestKeepFailedLogDoesNotFollowALink(t *testing.T) {
	s := openTest(t)
	key := testKey("failed")
	outside := filepath.Join(t.TempDir(), "precious.txt")
	if err := os.WriteFile(outside, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, s.FailedLogPath(key)); err != nil {
		t.Fatal(err)
	}
	name, err := s.KeepFailedLog(key, []byte("epoch 3: loss is NaN\n"))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "keep me" {
		t.Fatalf("the link's target was written: %q", b)
	}
	fi, err := os.Lstat(name)
	if err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("failed log %s is not a plain file: %v %v", name, fi, err)
	}
	if b, _ := os.ReadFile(name); string(b) != "epoch 3: loss is NaN\n" {
		t.Fatalf("failed log holds %q", b)
	}
}

func TestCommitForgetsTheFailedLog(t *testing.T) {
	s := openTest(t)
	key := testKey("fixed")
	if _, err := s.KeepFailedLog(key, []byte("failed once\n")); err != nil {
		t.Fatal(err)
	}
	commitFiles(t, s, key, map[string]string{"out.txt": "ok"})
	if _, err := os.Lstat(s.FailedLogPath(key)); !os.IsNotExist(err) {
		t.Fatalf("the failed log of a key that is now computed is still there: %v", err)
	}
}
