package cache_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"dmlrun/internal/cli/clitest"
	"dmlrun/internal/cli/root"
	"dmlrun/pipeline"
)

// TestMain: this test binary doubles as a dmlrun child process (clitest.Helper).
func TestMain(m *testing.M) {
	clitest.MainIfHelper()
	os.Exit(m.Run())
}

func TestCorruptionVerifyAndRecompute(t *testing.T) {
	clitest.Workdir(t)
	if r := clitest.Run(t, "apply", "exp.hcl"); r.Code != root.ExitOK {
		t.Fatalf("apply: %s", r.ErrOut)
	}
	clitest.TakeRuns()
	key := clitest.Keys(clitest.PlanJSON(t, "exp.hcl"))["train.a[seed=1]"]
	file := filepath.Join("results", key[:2], key, "model.txt")
	os.Chmod(file, 0o644)
	b, _ := os.ReadFile(file)
	b[0] ^= 1
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	r := clitest.Run(t, "cache", "verify")
	if r.Code != root.ExitError || !strings.Contains(r.Out, "DAMAGED  "+key[:12]+" train.a[seed=1]: file model.txt digest mismatch") {
		t.Errorf("verify: exit %d\n%s\n%s", r.Code, r.Out, r.ErrOut)
	}
	if !strings.Contains(r.ErrOut, "1 of 5 artifact(s) damaged") {
		t.Errorf("verify stderr: %s", r.ErrOut)
	}
	p := clitest.PlanJSON(t, "exp.hcl")
	for _, n := range p.Nodes {
		if n.Addr == "train.a[seed=1]" && (n.Action != pipeline.Rerun || n.Reason != "artifact corrupted: file model.txt digest mismatch") {
			t.Errorf("plan: %s %q", n.Action, n.Reason)
		}
	}
	if r := clitest.Run(t, "apply", "exp.hcl"); r.Code != root.ExitOK {
		t.Fatalf("apply: %s", r.ErrOut)
	}
	if got := clitest.TakeRuns(); !slices.Equal(got, []string{"train.a[seed=1]"}) {
		t.Errorf("recompute ran %v", got)
	}
	if r := clitest.Run(t, "cache", "verify"); r.Code != root.ExitOK {
		t.Errorf("verify after recompute: %d\n%s", r.Code, r.Out)
	}
}

func TestCacheLsAndGC(t *testing.T) {
	clitest.Workdir(t)
	clitest.Run(t, "apply", "exp.hcl")
	clitest.Run(t, "apply", "-var", "lr=2e-5", "exp.hcl")
	r := clitest.Run(t, "cache", "ls")
	if !strings.Contains(r.Out, "9 artifact(s)") {
		t.Errorf("ls:\n%s", r.Out)
	}
	if r := clitest.Run(t, "cache", "gc"); r.Code != root.ExitError {
		t.Errorf("gc without files: exit %d", r.Code)
	}
	r = clitest.Run(t, "cache", "gc", "--dry-run", "exp.hcl")
	if !strings.Contains(r.Out, "would remove 4 artifact(s)") {
		t.Errorf("dry run:\n%s", r.Out)
	}
	r = clitest.Run(t, "cache", "gc", "exp.hcl")
	if r.Code != root.ExitOK || !strings.Contains(r.Out, "removed 4 artifact(s)") || !strings.Contains(r.Out, "kept 5") {
		t.Errorf("gc: %d\n%s%s", r.Code, r.Out, r.ErrOut)
	}
	if r := clitest.Run(t, "plan", "--detailed-exitcode", "exp.hcl"); r.Code != root.ExitOK {
		t.Errorf("gc removed something exp.hcl needs:\n%s", r.Out)
	}
	if r := clitest.Run(t, "plan", "-var", "lr=2e-5", "exp.hcl"); !strings.Contains(r.Out, "artifact missing from the store (removed by cache gc or by hand)") {
		t.Errorf("plan after gc:\n%s", r.Out)
	}
}

func TestGCRemovesStaleTemps(t *testing.T) {
	clitest.Workdir(t)
	clitest.Run(t, "apply", "--target", "dataset.toy", "exp.hcl")
	ks := clitest.Keys(clitest.PlanJSON(t, "exp.hcl"))
	live, done := ks["train.a[seed=0]"], ks["dataset.toy"]
	dead := strings.Repeat("ab", 32)
	for _, name := range []string{live + ".partial", done + ".partial", dead + ".partial", dead + ".123456", "discard-99"} {
		if err := os.MkdirAll(filepath.Join("results", "tmp", name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r := clitest.Run(t, "cache", "gc", "exp.hcl")
	if r.Code != root.ExitOK {
		t.Fatalf("gc: %d\n%s", r.Code, r.ErrOut)
	}
	ents, _ := os.ReadDir(filepath.Join("results", "tmp"))
	var left []string
	for _, e := range ents {
		left = append(left, e.Name())
	}
	if !slices.Equal(left, []string{live + ".partial"}) {
		t.Errorf("tmp/ after gc: %v, want only the partial of the live, uncomputed key", left)
	}
}

// An apply killed while writing the index leaves index/<id>.json.<random>.tmp; cache gc
// removes it.
func TestKilledIndexWriteRemovedByGC(t *testing.T) {
	clitest.Workdir(t)
	clitest.ApplyKilledAt(t, "store.index.temp")
	var tmps []string
	for _, n := range dirNames(t, filepath.Join("results", "index")) {
		if strings.HasSuffix(n, ".tmp") {
			tmps = append(tmps, n)
		}
	}
	if len(tmps) != 1 || !strings.Contains(tmps[0], ".json.") {
		t.Fatalf("index/ after the kill holds %v, want one <id>.json.<random>.tmp", tmps)
	}
	r := clitest.Run(t, "cache", "gc", "exp.hcl")
	if r.Code != root.ExitOK || !strings.Contains(r.Out, "removed  index/"+tmps[0]) {
		t.Errorf("gc: exit %d\n%s%s", r.Code, r.Out, r.ErrOut)
	}
	for _, n := range dirNames(t, filepath.Join("results", "index")) {
		if strings.HasSuffix(n, ".tmp") {
			t.Errorf("index/%s left after gc", n)
		}
	}
}

// cache gc removes what crashes leave (discard directories, other experiments' index
// temporary files, links in tmp/, which are removed themselves) and says which entries it
// leaves and why.
func TestGCLeftoversAndSkipped(t *testing.T) {
	clitest.Workdir(t)
	if r := clitest.Run(t, "apply", "exp.hcl"); r.Code != root.ExitOK {
		t.Fatalf("apply: %s", r.ErrOut)
	}
	out, intact := outsideDir(t)
	dead := strings.Repeat("cd", 32)
	tmp := filepath.Join("results", "tmp")
	for _, d := range []string{"discard-" + dead + ".123/a/sub", "discard-77/a"} {
		os.MkdirAll(filepath.Join(tmp, d), 0o755)
		os.WriteFile(filepath.Join(tmp, d, "f"), []byte("x"), 0o444)
	}
	os.Symlink(out, filepath.Join(tmp, dead+".partial"))
	os.WriteFile(filepath.Join(tmp, "notes.txt"), nil, 0o644)
	other := "0123456789abcdef.json.55.tmp" // a killed writer of another experiment
	os.WriteFile(filepath.Join("results", "index", other), []byte("{"), 0o644)
	os.WriteFile(filepath.Join("results", "README"), nil, 0o644)

	r := clitest.Run(t, "cache", "gc", "exp.hcl")
	if r.Code != root.ExitOK {
		t.Fatalf("gc: exit %d\n%s%s", r.Code, r.Out, r.ErrOut)
	}
	for _, want := range []string{
		"removed  tmp/discard-" + dead + ".123\n",
		"removed  tmp/discard-77\n",
		"removed  tmp/" + dead + ".partial (a symbolic link; what it points at was not touched)\n",
		"removed  index/" + other + "\n",
		"skipped 2 entries: README is not a store entry (a regular file the store did not make; left alone); tmp/notes.txt is not a name the store makes (left alone)\n",
		"removed 0 artifact(s), 0 B; kept 5\n",
	} {
		if !strings.Contains(r.Out, want) {
			t.Errorf("gc output lacks %q:\n%s", want, r.Out)
		}
	}
	if left := dirNames(t, tmp); !slices.Equal(left, []string{"notes.txt"}) {
		t.Errorf("tmp/ after gc: %v", left)
	}
	intact()
	if r := clitest.Run(t, "cache", "ls"); r.Code != root.ExitOK || !strings.Contains(r.ErrOut, "warning: skipped 1 entry: README is not a store entry") || !strings.Contains(r.Out, "5 artifact(s)") {
		t.Errorf("ls: exit %d\n%s%s", r.Code, r.Out, r.ErrOut)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// cache verify takes the 12-digit keys every command prints, and any unique prefix of at
// least 8 digits; an ambiguous prefix lists its candidates, a prefix of nothing says so.
func TestVerifyKeyPrefixes(t *testing.T) {
	clitest.Workdir(t)
	if r := clitest.Run(t, "apply", "exp.hcl"); r.Code != root.ExitOK {
		t.Fatalf("apply: %s", r.ErrOut)
	}
	keys := clitest.Keys(clitest.PlanJSON(t, "exp.hcl"))
	a, b := keys["train.a[seed=0]"], keys["dataset.toy"]
	r := clitest.Run(t, "cache", "verify", a[:12], b[:8], a)
	if r.Code != root.ExitOK || r.Out != "ok       "+a[:12]+" train.a[seed=0]\nok       "+b[:12]+" dataset.toy\n2 artifact(s) verified\n" {
		t.Errorf("verify by prefix: exit %d\n%s\n%s", r.Code, r.Out, r.ErrOut)
	}
	// A second directory that shares a's first 12 digits makes a[:12] ambiguous.
	// The twin differs at digit 13, so 13 digits tell the two apart.
	other := "0"
	if a[12] == '0' {
		other = "1"
	}
	twin := a[:12] + other + strings.Repeat("0", 51)
	if err := os.Mkdir(filepath.Join("results", a[:2], twin), 0o755); err != nil {
		t.Fatal(err)
	}
	first, second := a[:13]+" train.a[seed=0]", twin[:13] // the twin has no manifest
	if twin < a {
		first, second = second, first
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{a[:12]}, "Error: key prefix " + a[:12] + " is ambiguous: 2 artifacts match: " + first + ", " + second + "; give more digits\n"},
		{[]string{"ffffffff0000"}, "Error: no artifact in store " + mustAbs(t, "results") + " has a key starting with ffffffff0000\n"},
		{[]string{"abc"}, `Error: key prefix "abc" is too short: give at least 8 hex digits`},
		{[]string{"train.a"}, `Error: "train.a" is not a content key or key prefix (8 to 64 lower-case hex digits)`},
	} {
		r := clitest.Run(t, append([]string{"cache", "verify"}, c.args...)...)
		if r.Code != root.ExitError || !strings.HasPrefix(r.ErrOut, c.want) || r.Out != "" {
			t.Errorf("verify %v: exit %d\nstdout %s\nstderr %s\nwant %s", c.args, r.Code, r.Out, r.ErrOut, c.want)
		}
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.EvalSymlinks(p)
	if err == nil {
		abs, err = filepath.Abs(abs)
	}
	if err != nil {
		t.Fatal(err)
	}
	return abs
}
