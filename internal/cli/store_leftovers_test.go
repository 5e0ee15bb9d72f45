package cli

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"dmlrun/internal/failpoint"
)

// applyKilledAt runs "dmlrun apply exp.hcl" in a child process (this test binary, see
// TestMain) with a store fault point armed to kill it, and checks that it died there.
func applyKilledAt(t *testing.T, point string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "DMLRUN_CLI_HELPER=1", "DMLRUN_CLI_ARGS=apply exp.hcl", failpoint.EnvVar+"="+point+"=kill")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ProcessState.String() != "signal: killed" || !strings.Contains(string(out), "fault injected at "+point) {
		t.Fatalf("apply with %s=kill: %v, want killed there\n%s", point, err, out)
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

// An apply killed in the middle of a commit leaves its temporary directory; the next apply
// takes that key's lock and removes it, and nothing else is left.
func TestKilledCommitLeftoverRemovedByNextApply(t *testing.T) {
	workdir(t)
	applyKilledAt(t, "store.commit.hashed")
	ds := keys(planJSON(t, "exp.hcl"))["dataset.toy"]
	if left := dirNames(t, filepath.Join("results", "tmp")); len(left) != 1 || !strings.HasPrefix(left[0], ds+".") {
		t.Fatalf("tmp/ after the kill: %v, want the dataset's temporary directory", left)
	}
	if r := dmlrun(t, "apply", "exp.hcl"); r.code != ExitOK {
		t.Fatalf("apply: %s", r.errOut)
	}
	if left := dirNames(t, filepath.Join("results", "tmp")); len(left) != 0 {
		t.Errorf("tmp/ after the next apply: %v", left)
	}
	if r := dmlrun(t, "cache", "verify"); r.code != ExitOK || !strings.Contains(r.out, "5 artifact(s) verified") {
		t.Errorf("verify: %s%s", r.out, r.errOut)
	}
}

// An apply killed while writing the index leaves index/<id>.json.<random>.tmp; cache gc
// removes it.
func TestKilledIndexWriteRemovedByGC(t *testing.T) {
	workdir(t)
	applyKilledAt(t, "store.index.temp")
	var tmps []string
	for _, n := range dirNames(t, filepath.Join("results", "index")) {
		if strings.HasSuffix(n, ".tmp") {
			tmps = append(tmps, n)
		}
	}
	if len(tmps) != 1 || !strings.Contains(tmps[0], ".json.") {
		t.Fatalf("index/ after the kill holds %v, want one <id>.json.<random>.tmp", tmps)
	}
	r := dmlrun(t, "cache", "gc", "exp.hcl")
	if r.code != ExitOK || !strings.Contains(r.out, "removed  index/"+tmps[0]) {
		t.Errorf("gc: exit %d\n%s%s", r.code, r.out, r.errOut)
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
	workdir(t)
	if r := dmlrun(t, "apply", "exp.hcl"); r.code != ExitOK {
		t.Fatalf("apply: %s", r.errOut)
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

	r := dmlrun(t, "cache", "gc", "exp.hcl")
	if r.code != ExitOK {
		t.Fatalf("gc: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	for _, want := range []string{
		"removed  tmp/discard-" + dead + ".123\n",
		"removed  tmp/discard-77\n",
		"removed  tmp/" + dead + ".partial (a symbolic link; what it points at was not touched)\n",
		"removed  index/" + other + "\n",
		"skipped 2 entries: README is not a store entry (a regular file the store did not make; left alone); tmp/notes.txt is not a name the store makes (left alone)\n",
		"removed 0 artifact(s), 0 B; kept 5\n",
	} {
		if !strings.Contains(r.out, want) {
			t.Errorf("gc output lacks %q:\n%s", want, r.out)
		}
	}
	if left := dirNames(t, tmp); !slices.Equal(left, []string{"notes.txt"}) {
		t.Errorf("tmp/ after gc: %v", left)
	}
	intact()
	if r := dmlrun(t, "cache", "ls"); r.code != ExitOK || !strings.Contains(r.errOut, "warning: skipped 1 entry: README is not a store entry") || !strings.Contains(r.out, "5 artifact(s)") {
		t.Errorf("ls: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
}
