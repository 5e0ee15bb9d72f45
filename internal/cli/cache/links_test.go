package cache_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dmlrun/internal/cli/clitest"
	"dmlrun/internal/cli/root"
)

// outsideDir makes a folder beside the store holding one file, and returns it with a
// check that fails the test unless the folder holds exactly that file, unchanged.
func outsideDir(t *testing.T) (string, func()) {
	t.Helper()
	dir, err := filepath.Abs("outside")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "precious.txt"), []byte("do not touch"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, func() {
		t.Helper()
		ents, _ := os.ReadDir(dir)
		b, err := os.ReadFile(filepath.Join(dir, "precious.txt"))
		if len(ents) != 1 || err != nil || string(b) != "do not touch" {
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			t.Errorf("outside the store: %v, precious.txt = %q (%v); want it untouched", names, b, err)
		}
	}
}

// The store never follows a link out of itself: each way the probe found is refused with
// an error naming the path, and what the link points at is left as it was.
func TestStoreLinksNotFollowed(t *testing.T) {
	cases := []struct {
		name    string
		applied bool // apply exp.hcl before planting the link
		plant   func(t *testing.T, out string, ks map[string]string)
		args    []string
		code    root.ExitCode
		errOut  string // in stderr
		out     string // in stdout
	}{
		{"tmp is a link: gc", true, func(t *testing.T, out string, ks map[string]string) {
			os.Remove(filepath.Join("results", "tmp"))
			os.Symlink(out, filepath.Join("results", "tmp"))
		}, []string{"cache", "gc", "exp.hcl"}, root.ExitError, "ROOT/results/tmp is a symbolic link (to ROOT/outside)", ""},
		{"tmp is a link: apply", false, func(t *testing.T, out string, ks map[string]string) {
			os.MkdirAll("results", 0o755)
			os.Symlink(out, filepath.Join("results", "tmp"))
		}, []string{"apply", "exp.hcl"}, root.ExitError, "rm ROOT/results/tmp && mkdir ROOT/results/tmp", ""},
		{"lock file is a link", false, func(t *testing.T, out string, ks map[string]string) {
			os.MkdirAll(filepath.Join("results", "locks"), 0o755)
			os.Symlink(filepath.Join(out, "precious.txt"), filepath.Join("results", "locks", ks["dataset.toy"]+".lock"))
		}, []string{"apply", "exp.hcl"}, root.ExitError, "ROOT/results/locks/KEY(dataset.toy).lock is a symbolic link", ""},
		{"partial is a link", false, func(t *testing.T, out string, ks map[string]string) {
			os.MkdirAll(filepath.Join("results", "tmp"), 0o755)
			os.Symlink(out, filepath.Join("results", "tmp", ks["train.a[seed=0]"]+".partial"))
		}, []string{"apply", "exp.hcl"}, root.ExitError, "train.a[seed=0]: begin KEY12(train.a[seed=0]): ROOT/results/tmp/KEY(train.a[seed=0]).partial is a symbolic link", ""},
		{"shard folder is a link", true, func(t *testing.T, out string, ks map[string]string) {
			os.Symlink(out, filepath.Join("results", "3f"))
		}, []string{"cache", "verify"}, root.ExitError, "ROOT/results/3f is a symbolic link", ""},
		{"artifact is a link", true, func(t *testing.T, out string, ks map[string]string) {
			k := ks["train.a[seed=1]"]
			dir := filepath.Join("results", k[:2], k)
			os.Chmod(filepath.Dir(dir), 0o755)
			if err := os.Rename(dir, filepath.Join("elsewhere")); err != nil {
				t.Fatal(err)
			}
			os.Symlink("../../elsewhere", dir)
		}, []string{"cache", "verify"}, root.ExitError, "4 artifact(s) verified, but 1 entry could not be checked",
			"skipped 1 entry: KEY2(train.a[seed=1])/KEY(train.a[seed=1]) is a symbolic link (not followed)"},
		{"stray entries", true, func(t *testing.T, out string, ks map[string]string) {
			os.WriteFile(filepath.Join("results", "notes.txt"), nil, 0o644)
			k := ks["dataset.toy"]
			os.Chmod(filepath.Join("results", k[:2]), 0o755)
			os.WriteFile(filepath.Join("results", k[:2], "x"), nil, 0o644)
		}, []string{"cache", "verify"}, root.ExitError, "5 artifact(s) verified, but 2 entries could not be checked",
			"skipped 2 entries: KEY2(dataset.toy)/x is not an artifact (its name is not a key; left alone); notes.txt is not a store entry"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clitest.Workdir(t)
			ks := clitest.Keys(clitest.PlanJSON(t, "exp.hcl"))
			if tc.applied {
				if r := clitest.Run(t, "apply", "exp.hcl"); r.Code != root.ExitOK {
					t.Fatalf("apply: %s", r.ErrOut)
				}
			} else {
				os.RemoveAll("results") // plan made it; plant into a fresh one
			}
			out, intact := outsideDir(t)
			tc.plant(t, out, ks)
			dir, err := os.Getwd()
			if err == nil {
				dir, err = filepath.EvalSymlinks(dir) // the store resolves links above it
			}
			if err != nil {
				t.Fatal(err)
			}
			expand := func(s string) string {
				s = strings.ReplaceAll(s, "ROOT", dir)
				for addr, k := range ks {
					s = strings.ReplaceAll(s, "KEY("+addr+")", k)
					s = strings.ReplaceAll(s, "KEY12("+addr+")", k[:12])
					s = strings.ReplaceAll(s, "KEY2("+addr+")", k[:2])
				}
				return s
			}
			r := clitest.Run(t, tc.args...)
			if r.Code != tc.code || !strings.Contains(r.ErrOut, expand(tc.errOut)) || !strings.Contains(r.Out, expand(tc.out)) {
				t.Errorf("%s: exit %d, want %d with\n  stderr %q\n  stdout %q\ngot stdout:\n%s\nstderr:\n%s",
					strings.Join(tc.args, " "), r.Code, tc.code, expand(tc.errOut), expand(tc.out), r.Out, r.ErrOut)
			}
			if strings.Contains(r.Out, "5 artifact(s) verified\n") && r.Code != root.ExitOK {
				t.Errorf("verify claims every artifact verified:\n%s", r.Out)
			}
			intact()
		})
	}
}

// An artifact replaced by a link is not used: plan re-runs it, apply computes it again
// and removes the link, leaving what it pointed at alone.
func TestLinkedArtifactRecomputed(t *testing.T) {
	clitest.Workdir(t)
	if r := clitest.Run(t, "apply", "exp.hcl"); r.Code != root.ExitOK {
		t.Fatalf("apply: %s", r.ErrOut)
	}
	clitest.TakeRuns()
	k := clitest.Keys(clitest.PlanJSON(t, "exp.hcl"))["dataset.toy"]
	dir := filepath.Join("results", k[:2], k)
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Rename(dir, "elsewhere")
	os.Symlink("../../elsewhere", dir)
	p := clitest.PlanJSON(t, "exp.hcl")
	for _, n := range p.Nodes {
		if n.Addr == "dataset.toy" && !strings.Contains(n.Reason, "is a symbolic link") {
			t.Errorf("plan: %s %q", n.Action, n.Reason)
		}
	}
	if r := clitest.Run(t, "apply", "exp.hcl"); r.Code != root.ExitOK {
		t.Fatalf("apply: %s", r.ErrOut)
	}
	if got := clitest.TakeRuns(); len(got) != 1 || got[0] != "dataset.toy" {
		t.Errorf("apply ran %v", got)
	}
	if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
		t.Errorf("%s after apply: %v, %v; want a real directory", dir, fi, err)
	}
	if b, err := os.ReadFile(filepath.Join("elsewhere", "data.txt")); err != nil || string(b) != "xxxx" {
		t.Errorf("the link's target changed: %q, %v", b, err)
	}
	if r := clitest.Run(t, "cache", "verify"); r.Code != root.ExitOK {
		t.Errorf("verify: %s%s", r.Out, r.ErrOut)
	}
}
