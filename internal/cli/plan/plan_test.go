package plan_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dmlrun/internal/cli/clitest"
	"dmlrun/internal/cli/root"
	"dmlrun/pipeline"
)

const sourceExp = `
source "s" {
  path = "in/data.txt"
}

dataset "toy" {
  kind = "synthetic"
}
`

func TestTwoSpellingsSameKeys(t *testing.T) {
	clitest.Workdir(t)
	h, y := clitest.Keys(clitest.PlanJSON(t, "exp.hcl")), clitest.Keys(clitest.PlanJSON(t, "exp.yaml"))
	if len(h) != 5 {
		t.Fatalf("exp.hcl has %d nodes, want 5: %v", len(h), h)
	}
	if !maps_equal(h, y) {
		t.Errorf("keys differ:\nhcl  %v\nyaml %v", h, y)
	}
}

func maps_equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestPlanExitCodes(t *testing.T) {
	clitest.Workdir(t)
	cases := []struct {
		name string
		args []string
		want root.ExitCode
	}{
		{"changes", []string{"plan", "--detailed-exitcode", "exp.hcl"}, root.ExitChanges},
		{"changes single dash", []string{"plan", "-detailed-exitcode", "exp.hcl"}, root.ExitChanges},
		{"no detailed", []string{"plan", "exp.hcl"}, root.ExitOK},
		{"invalid", []string{"plan", "--detailed-exitcode", "invalid.hcl"}, root.ExitError},
		{"missing file", []string{"plan", "nope.hcl"}, root.ExitError},
		{"bad flag", []string{"plan", "--frobnicate", "exp.hcl"}, root.ExitError},
		{"bad target", []string{"plan", "--target", "train.zz", "exp.hcl"}, root.ExitError},
		{"unknown subcommand", []string{"cache", "bogus"}, root.ExitError},
		{"cache help", []string{"cache"}, root.ExitOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if r := clitest.Run(t, tc.args...); r.Code != tc.want {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", r.Code, tc.want, r.Out, r.ErrOut)
			}
		})
	}
	if r := clitest.Run(t, "apply", "exp.hcl"); r.Code != root.ExitOK {
		t.Fatalf("apply: exit %d\n%s", r.Code, r.ErrOut)
	}
	if r := clitest.Run(t, "plan", "--detailed-exitcode", "exp.hcl"); r.Code != root.ExitOK {
		t.Errorf("after apply: exit %d, want 0\n%s", r.Code, r.Out)
	}
	if r := clitest.Run(t, "plan", "--detailed-exitcode", "-var", "lr=2e-5", "exp.hcl"); r.Code != root.ExitChanges {
		t.Errorf("changed var: exit %d, want 2", r.Code)
	}
}

func TestPlanGolden(t *testing.T) {
	clitest.Workdir(t)
	r := clitest.Run(t, "plan", "exp.hcl")
	clitest.Golden(t, "plan_fresh.txt", r.Out)
	r = clitest.Run(t, "plan", "--json", "exp.hcl")
	clitest.Golden(t, "plan_fresh.json", r.Out)
	if r := clitest.Run(t, "apply", "--target", "train.a[seed=0]", "exp.hcl"); r.Code != root.ExitOK {
		t.Fatalf("apply: %s", r.ErrOut)
	}
	r = clitest.Run(t, "plan", "-var", "lr=2e-5", "exp.hcl")
	clitest.Golden(t, "plan_changed.txt", r.Out)
	r = clitest.Run(t, "plan", "--json", "-var", "lr=2e-5", "--target", "train.a", "exp.hcl")
	clitest.Golden(t, "plan_changed.json", r.Out)
}

func TestUnreadableSourcePlanAndApply(t *testing.T) {
	dir := clitest.Workdir(t)
	if err := os.WriteFile(filepath.Join(dir, "src.hcl"), []byte(sourceExp), 0o644); err != nil {
		t.Fatal(err)
	}
	why := "cannot read source: open in/data.txt: no such file or directory; expected layout <path>: a text file"

	if r := clitest.Run(t, "validate", "src.hcl"); r.Code != root.ExitOK {
		t.Errorf("validate needs the source file: exit %d\n%s", r.Code, r.ErrOut)
	}

	for _, args := range [][]string{{"plan", "src.hcl"}, {"plan", "--detailed-exitcode", "src.hcl"}} {
		r := clitest.Run(t, args...)
		if r.Code != root.ExitChanges {
			t.Errorf("%v: exit %d, want 2\n%s%s", args, r.Code, r.Out, r.ErrOut)
		}
		if want := "+ create  source.s     (no key)      " + why + "\n"; !strings.Contains(r.Out, want) {
			t.Errorf("%v: plan lacks %q:\n%s", args, want, r.Out)
		}
		if !strings.Contains(r.Out, "+ create  dataset.toy ") || !strings.Contains(r.ErrOut, "1 node(s) have no key") {
			t.Errorf("%v: stdout:\n%s\nstderr:\n%s", args, r.Out, r.ErrOut)
		}
	}
	// plan exits 2 here, so decode its output without clitest.PlanJSON's exit check.
	r := clitest.Run(t, "plan", "--json", "src.hcl")
	var p pipeline.Plan
	if err := json.Unmarshal([]byte(r.Out), &p); err != nil {
		t.Fatalf("plan --json: %v\n%s", err, r.Out)
	}
	if n := p.Nodes[0]; n.Addr != "source.s" || !n.KeyUnknown || n.Reason != why {
		t.Errorf("plan --json node %+v", n)
	}

	r = clitest.Run(t, "apply", "src.hcl")
	if r.Code != root.ExitError || !strings.Contains(r.ErrOut, "source.s: "+why) {
		t.Errorf("apply: exit %d, stderr:\n%s", r.Code, r.ErrOut)
	}
	if runs := clitest.TakeRuns(); len(runs) != 0 {
		t.Errorf("apply ran %v before failing; it must fail before running any node", runs)
	}
	if r := clitest.Run(t, "cache", "gc", "src.hcl"); r.Code != root.ExitError || !strings.Contains(r.ErrOut, "nothing was removed") {
		t.Errorf("gc with an unknown key: exit %d\n%s", r.Code, r.ErrOut)
	}

	// With the file present the node is keyed and runs; changing the file re-runs it.
	os.Mkdir(filepath.Join(dir, "in"), 0o755)
	os.WriteFile(filepath.Join(dir, "in", "data.txt"), []byte("one"), 0o644)
	if r := clitest.Run(t, "apply", "src.hcl"); r.Code != root.ExitOK {
		t.Fatalf("apply: exit %d\n%s", r.Code, r.ErrOut)
	}
	if runs := clitest.TakeRuns(); len(runs) != 2 {
		t.Errorf("apply ran %v, want 2 nodes", runs)
	}
	os.WriteFile(filepath.Join(dir, "in", "data.txt"), []byte("two"), 0o644)
	r = clitest.Run(t, "plan", "--detailed-exitcode", "src.hcl")
	if r.Code != root.ExitChanges || !strings.Contains(r.Out, "~ re-run  source.s ") || !strings.Contains(r.Out, "  source content changed\n") {
		t.Errorf("after changing the file: exit %d\n%s", r.Code, r.Out)
	}
}
