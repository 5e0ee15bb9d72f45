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
