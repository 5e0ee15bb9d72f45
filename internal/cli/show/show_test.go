package show_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dmlrun/internal/cli/clitest"
	"dmlrun/internal/cli/root"
	"dmlrun/internal/cli/show"
	"dmlrun/store"
)

func TestShow(t *testing.T) {
	clitest.Workdir(t)
	if r := clitest.Run(t, "show", "exp.hcl", "dataset.toy"); r.Code != root.ExitError || !strings.Contains(r.ErrOut, "not in store") {
		t.Errorf("show before apply: %d %s", r.Code, r.ErrOut)
	}
	clitest.Run(t, "apply", "exp.hcl")
	r := clitest.Run(t, "show", "--json", "exp.hcl", "train.a[seed=0]")
	var s show.JSON
	if err := json.Unmarshal([]byte(r.Out), &s); err != nil {
		t.Fatalf("%v\n%s", err, r.Out)
	}
	if s.Manifest.Stage != "train" || len(s.Manifest.Files) != 2 || s.Manifest.Provenance.DmlrunVersion != "test" || s.Manifest.Provenance.TorchVersion != "none" {
		t.Errorf("manifest = %+v", s.Manifest)
	}
	r = clitest.Run(t, "show", "exp.hcl", "train.a[seed=0]")
	for _, want := range []string{"stage       train (version 1)", "input       dataset = dataset.toy", "schedule.lr = 1e-05", "model.txt", "log.txt"} {
		if !strings.Contains(r.Out, want) {
			t.Errorf("show lacks %q:\n%s", want, r.Out)
		}
	}
	if r := clitest.Run(t, "show", "exp.hcl", "train.a"); r.Code != root.ExitError || !strings.Contains(r.ErrOut, "train.a has 2 instances") {
		t.Errorf("ambiguous: %s", r.ErrOut)
	}
}

func TestShowCat(t *testing.T) {
	clitest.Workdir(t)
	clitest.Run(t, "apply", "exp.hcl")
	dir := func() string {
		var s show.JSON
		if err := json.Unmarshal([]byte(clitest.Run(t, "show", "--json", "exp.hcl", "train.a[seed=0]").Out), &s); err != nil {
			t.Fatal(err)
		}
		return s.Dir
	}()
	want, err := os.ReadFile(filepath.Join(dir, "model.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if r := clitest.Run(t, "show", "--cat", "model.txt", "exp.hcl", "train.a[seed=0]"); r.Code != root.ExitOK || r.Out != string(want) {
		t.Errorf("--cat model.txt: code %d, out %q, want %q", r.Code, r.Out, want)
	}
	r := clitest.Run(t, "show", "--cat", "../manifest.json", "exp.hcl", "train.a[seed=0]")
	if r.Code != root.ExitError || !strings.Contains(r.ErrOut, `has no file "../manifest.json" (files: log.txt, model.txt)`) {
		t.Errorf("--cat outside the file list: code %d, %s", r.Code, r.ErrOut)
	}
}

// A node that is not in the store: show names the log of its last failed run.
func TestShowNamesFailedLog(t *testing.T) {
	clitest.Workdir(t)
	key := clitest.Keys(clitest.PlanJSON(t, "exp.hcl"))["dataset.toy"]
	st, err := store.Open("results")
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := st.TryLock(key)
	if err != nil {
		t.Fatal(err)
	}
	name, err := st.KeepFailedLog(key, []byte("boom\n"))
	unlock()
	if err != nil {
		t.Fatal(err)
	}
	r := clitest.Run(t, "show", "exp.hcl", "dataset.toy")
	if r.Code != root.ExitError || !strings.Contains(r.ErrOut, "not in store; its last run failed, log: "+name+"; run apply to compute it") {
		t.Errorf("show: %d %s", r.Code, r.ErrOut)
	}
	r = clitest.Run(t, "plan", "exp.hcl")
	if !strings.Contains(r.Out, "dataset.toy                     "+key[:12]+"  not in store; last run failed, log: "+name) {
		t.Errorf("plan:\n%s", r.Out)
	}
}

// show KEY finds an artifact by a key prefix in the store alone and prints what show FILE
// ADDR prints; show FILE PREFIX resolves the prefix among the file's nodes.
func TestShowKeyPrefix(t *testing.T) {
	clitest.Workdir(t)
	clitest.Run(t, "apply", "exp.hcl")
	keys := clitest.Keys(clitest.PlanJSON(t, "exp.hcl"))
	key := keys["train.a[seed=1]"]
	want := clitest.Run(t, "show", "exp.hcl", "train.a[seed=1]")
	if want.Code != root.ExitOK {
		t.Fatalf("show: %s", want.ErrOut)
	}
	for _, args := range [][]string{{key[:12]}, {key[:8]}, {key}, {"exp.hcl", key[:12]}} {
		if r := clitest.Run(t, append([]string{"show"}, args...)...); r.Code != root.ExitOK || r.Out != want.Out {
			t.Errorf("show %v: exit %d\n%s%s\nwant\n%s", args, r.Code, r.Out, r.ErrOut, want.Out)
		}
	}
	r := clitest.Run(t, "show", "--cat", "model.txt", key[:12])
	if w := clitest.Run(t, "show", "--cat", "model.txt", "exp.hcl", "train.a[seed=1]"); r.Code != root.ExitOK || r.Out != w.Out {
		t.Errorf("show --cat by key: %d %q, want %q", r.Code, r.Out, w.Out)
	}
	var js show.JSON
	r = clitest.Run(t, "show", "--json", key[:12])
	if err := json.Unmarshal([]byte(r.Out), &js); err != nil || js.Addr != "train.a[seed=1]" || js.Key != key {
		t.Errorf("show --json KEY: %v %+v\n%s", err, js, r.Out)
	}

	other := "0"
	if key[12] == '0' {
		other = "1"
	}
	twin := key[:12] + other + strings.Repeat("0", 51)
	if err := os.Mkdir(filepath.Join("results", key[:2], twin), 0o755); err != nil {
		t.Fatal(err)
	}
	first, second := key[:13]+" train.a[seed=1]", twin[:13]
	if twin < key {
		first, second = second, first
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{key[:12]}, "Error: key prefix " + key[:12] + " is ambiguous: 2 artifacts match: " + first + ", " + second + "; give more digits\n"},
		{[]string{"exp.hcl", key[:12]}, ""}, // the file has one node with that prefix
		{[]string{"ffffffff"}, "Error: no artifact in store "},
		{[]string{"exp.hcl", "ffffffff"}, "Error: exp.hcl: no node ffffffff in the experiment, and no node's key starts with ffffffff (dmlrun show ffffffff looks the key up in the store alone)\n"},
		{[]string{"exp.hcl"}, `Error: dmlrun show takes FILE ADDR, or a KEY alone: "exp.hcl" is not a content key or key prefix`},
		{[]string{"1234"}, `Error: dmlrun show takes FILE ADDR, or a KEY alone: key prefix "1234" is too short: give at least 8 hex digits`},
	} {
		r := clitest.Run(t, append([]string{"show"}, c.args...)...)
		if c.want == "" {
			if r.Code != root.ExitOK || r.Out != want.Out {
				t.Errorf("show %v: exit %d\n%s", c.args, r.Code, r.ErrOut)
			}
			continue
		}
		if r.Code != root.ExitError || !strings.HasPrefix(r.ErrOut, c.want) {
			t.Errorf("show %v: exit %d\n%s\nwant %s", c.args, r.Code, r.ErrOut, c.want)
		}
	}
}
