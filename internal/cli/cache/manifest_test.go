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

// editStoredManifest changes one field of the manifest of addr's artifact in results/, as
// a person with an editor would, and returns the key.
func editStoredManifest(t *testing.T, addr, from, to string) string {
	t.Helper()
	key := clitest.Keys(clitest.PlanJSON(t, "exp.hcl"))[addr]
	p := filepath.Join("results", key[:2], key, "manifest.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), from) {
		t.Fatalf("%s lacks %q:\n%s", p, from, b)
	}
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), from, to, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return key
}

// A manifest cannot lie: edited key material is damage for cache verify, a re-run for
// plan, a miss for show, and the next apply recomputes that node only. A manifest of
// another stage version cannot be checked: verify says so (and fails), plan re-runs it.
func TestEditedManifest(t *testing.T) {
	cases := []struct {
		name     string
		addr     string
		from, to string
		verify   string // the line verify prints for it
		reason   string // plan's reason
	}{
		{"param", "dataset.toy", `"n": 4`, `"n": 5`,
			"dataset.toy: manifest fields hash to key", "artifact corrupted: manifest fields hash to key"},
		{"nested param", "train.a[seed=0]", `"epochs": 2`, `"epochs": 3`,
			"train.a[seed=0]: manifest fields hash to key", "artifact corrupted: manifest fields hash to key"},
		{"param type", "train.a[seed=1]", `"seed": 1`, `"seed": "1"`,
			`train.a[seed=1]: manifest key material: params do not fit stage train version 1: field "seed": string 1 is not an int`, "artifact corrupted: manifest key material"},
		{"input key", "evaluate.test[train.a[seed=0]]", "", "",
			"evaluate.test[train.a[seed=0]]: manifest fields hash to key", "artifact corrupted: manifest fields hash to key"},
		{"version", "dataset.toy", `"stage_version": 1`, `"stage_version": 2`,
			"dataset.toy: not checked: made by stage dataset version 2, this dmlrun has 1", "manifest does not match this key: made by stage dataset version 2, this dmlrun has 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clitest.Workdir(t)
			if r := clitest.Run(t, "apply", "exp.hcl"); r.Code != root.ExitOK {
				t.Fatalf("apply: %s", r.ErrOut)
			}
			clitest.TakeRuns()
			from, to := tc.from, tc.to
			if from == "" { // the evaluation's input: the other seed's model
				ks := clitest.Keys(clitest.PlanJSON(t, "exp.hcl"))
				from, to = `"key": "`+ks["train.a[seed=0]"]+`"`, `"key": "`+ks["train.a[seed=1]"]+`"`
			}
			key := editStoredManifest(t, tc.addr, from, to)

			r := clitest.Run(t, "cache", "verify")
			if r.Code != root.ExitError || !strings.Contains(r.Out, key[:12]+" "+tc.verify) {
				t.Errorf("verify: exit %d, want 1 and %q\n%s%s", r.Code, tc.verify, r.Out, r.ErrOut)
			}
			if tc.name == "version" {
				if strings.Contains(r.Out, "DAMAGED") || !strings.Contains(r.Out, "skipped 1 entry: "+key[:2]+"/"+key+" not checked: made by stage dataset version 2") ||
					!strings.Contains(r.ErrOut, "4 artifact(s) verified, but 1 entry could not be checked") {
					t.Errorf("verify of another version:\n%s%s", r.Out, r.ErrOut)
				}
			} else if !strings.Contains(r.ErrOut, "1 of 5 artifact(s) damaged") {
				t.Errorf("verify stderr: %s", r.ErrOut)
			}

			p := clitest.PlanJSON(t, "exp.hcl")
			for _, n := range p.Nodes {
				if n.Addr == tc.addr && (n.Action != pipeline.Rerun || !strings.HasPrefix(n.Reason, tc.reason)) {
					t.Errorf("plan: %s %q, want a re-run because %q", n.Action, n.Reason, tc.reason)
				}
			}
			if r := clitest.Run(t, "show", "--json", "exp.hcl", tc.addr); r.Code != root.ExitError || r.Out != "" || !strings.Contains(r.ErrOut, "run apply to compute it") {
				t.Errorf("show --json of a lying manifest: exit %d\n%s%s", r.Code, r.Out, r.ErrOut)
			}

			if r := clitest.Run(t, "apply", "exp.hcl"); r.Code != root.ExitOK {
				t.Fatalf("apply: %s", r.ErrOut)
			}
			if got := clitest.TakeRuns(); !slices.Equal(got, []string{tc.addr}) {
				t.Errorf("apply recomputed %v, want only %s", got, tc.addr)
			}
			if r := clitest.Run(t, "cache", "verify"); r.Code != root.ExitOK || !strings.Contains(r.Out, "5 artifact(s) verified") {
				t.Errorf("verify after the recompute: exit %d\n%s%s", r.Code, r.Out, r.ErrOut)
			}
		})
	}
}
