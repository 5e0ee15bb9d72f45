package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dmlrun/pipeline"
	"dmlrun/stage"
)

// source is a test stage that reads a file outside the store: its KeyInputs hook digests
// the file, as the real dataset stage digests its folder.
func sourceDef() *stage.Def {
	return &stage.Def{Kind: "source", Version: 1,
		Params:        []stage.Param{{Name: "path", Type: stage.String, Required: true}},
		KeyInputsName: "source content",
		KeyInputs: func(_ context.Context, p stage.Params) (string, error) {
			b, err := os.ReadFile(p.String("path"))
			if err != nil {
				return "", fmt.Errorf("cannot read source: %w; expected layout <path>: a text file", err)
			}
			sum := sha256.Sum256(b)
			return "sha256:" + hex.EncodeToString(sum[:]), nil
		},
		Run: func(c *stage.Context) error {
			logRun(c.Addr)
			return nil
		}}
}

const sourceExp = `
source "s" {
  path = "in/data.txt"
}

dataset "toy" {
  kind = "synthetic"
}
`

func TestUnreadableSourcePlanAndApply(t *testing.T) {
	dir := workdir(t)
	if err := os.WriteFile(filepath.Join(dir, "src.hcl"), []byte(sourceExp), 0o644); err != nil {
		t.Fatal(err)
	}
	why := "cannot read source: open in/data.txt: no such file or directory; expected layout <path>: a text file"

	if r := dmlrun(t, "validate", "src.hcl"); r.code != ExitOK {
		t.Errorf("validate needs the source file: exit %d\n%s", r.code, r.errOut)
	}

	for _, args := range [][]string{{"plan", "src.hcl"}, {"plan", "--detailed-exitcode", "src.hcl"}} {
		r := dmlrun(t, args...)
		if r.code != ExitChanges {
			t.Errorf("%v: exit %d, want 2\n%s%s", args, r.code, r.out, r.errOut)
		}
		if want := "+ create  source.s     (no key)      " + why + "\n"; !strings.Contains(r.out, want) {
			t.Errorf("%v: plan lacks %q:\n%s", args, want, r.out)
		}
		if !strings.Contains(r.out, "+ create  dataset.toy ") || !strings.Contains(r.errOut, "1 node(s) have no key") {
			t.Errorf("%v: stdout:\n%s\nstderr:\n%s", args, r.out, r.errOut)
		}
	}
	p := dmlrunJSONPlan(t, "src.hcl")
	if n := p.Nodes[0]; n.Addr != "source.s" || !n.KeyUnknown || n.Reason != why {
		t.Errorf("plan --json node %+v", n)
	}

	r := dmlrun(t, "apply", "src.hcl")
	if r.code != ExitError || !strings.Contains(r.errOut, "source.s: "+why) {
		t.Errorf("apply: exit %d, stderr:\n%s", r.code, r.errOut)
	}
	if runs := takeRuns(); len(runs) != 0 {
		t.Errorf("apply ran %v before failing; it must fail before running any node", runs)
	}
	if r := dmlrun(t, "cache", "gc", "src.hcl"); r.code != ExitError || !strings.Contains(r.errOut, "nothing was removed") {
		t.Errorf("gc with an unknown key: exit %d\n%s", r.code, r.errOut)
	}

	// With the file present the node is keyed and runs; changing the file re-runs it.
	os.Mkdir(filepath.Join(dir, "in"), 0o755)
	os.WriteFile(filepath.Join(dir, "in", "data.txt"), []byte("one"), 0o644)
	if r := dmlrun(t, "apply", "src.hcl"); r.code != ExitOK {
		t.Fatalf("apply: exit %d\n%s", r.code, r.errOut)
	}
	if runs := takeRuns(); len(runs) != 2 {
		t.Errorf("apply ran %v, want 2 nodes", runs)
	}
	os.WriteFile(filepath.Join(dir, "in", "data.txt"), []byte("two"), 0o644)
	r = dmlrun(t, "plan", "--detailed-exitcode", "src.hcl")
	if r.code != ExitChanges || !strings.Contains(r.out, "~ re-run  source.s ") || !strings.Contains(r.out, "  source content changed\n") {
		t.Errorf("after changing the file: exit %d\n%s", r.code, r.out)
	}
}

func dmlrunJSONPlan(t *testing.T, file string) *pipeline.Plan {
	t.Helper()
	r := dmlrun(t, "plan", "--json", file)
	var p pipeline.Plan
	if err := json.Unmarshal([]byte(r.out), &p); err != nil {
		t.Fatalf("plan --json: %v\n%s", err, r.out)
	}
	return &p
}
