package completion_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dmlrun/internal/cli/clitest"
	"dmlrun/internal/cli/root"
	"dmlrun/internal/iostreams"

	"github.com/spf13/cobra"
)

// workdir is clitest.Workdir with complete.hcl (a matrix over seeds, two evaluate blocks)
// added.
func workdir(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile("testdata/complete.hcl")
	if err != nil {
		t.Fatal(err)
	}
	clitest.Workdir(t)
	if err := os.WriteFile("complete.hcl", b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// complete runs cobra's hidden __complete command, what the shells' scripts call, and
// returns its stdout: one candidate a line, then ":<directive>".
func complete(t *testing.T, args ...string) string {
	t.Helper()
	r := clitest.Run(t, append([]string{"__complete"}, args...)...)
	if r.Code != root.ExitOK {
		t.Fatalf("__complete %q: exit %d\n%s", args, r.Code, r.ErrOut)
	}
	return r.Out
}

// Every completion a command line gets, in one golden file per case.
func TestComplete(t *testing.T) {
	workdir(t)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"show-file", []string{"show", ""}},
		{"show-addr", []string{"show", "complete.hcl", ""}},
		{"show-addr-prefix", []string{"show", "complete.hcl", "evaluate.test[train.pa[schedule={epochs=2"}},
		{"show-addr-var", []string{"show", "--var", "epochs=3", "complete.hcl", "train.pa["}},
		{"show-too-many", []string{"show", "complete.hcl", "train.one", ""}},
		{"inspect-train-only", []string{"inspect", "complete.hcl", ""}},
		{"plan-target", []string{"plan", "complete.hcl", "--target", "tr"}},
		{"apply-target-single-dash", []string{"apply", "complete.hcl", "-target", "e"}},
		{"apply-target-no-file", []string{"apply", "--target", ""}},
		{"diff-sides", []string{"diff", "complete.hcl", ""}},
		{"diff-second-side", []string{"diff", "complete.hcl", "one", "pa[schedule={epochs=1,lr=1e-05}"}},
		{"diff-evaluate-suffix", []string{"diff", "complete.hcl", "one@"}},
		{"diff-evaluate-flag", []string{"diff", "complete.hcl", "--evaluate", ""}},
		{"validate-file", []string{"validate", ""}},
		{"version", []string{"version", ""}},
		{"missing-file", []string{"show", "missing.hcl", ""}},
	} {
		t.Run(c.name, func(t *testing.T) {
			clitest.Golden(t, c.name, complete(t, c.args...))
		})
	}
}

// A file with a problem completes with the nodes decoded, and prints no diagnostics: the
// shell would take them for candidates.
func TestCompleteBrokenFile(t *testing.T) {
	workdir(t)
	b, _ := os.ReadFile("complete.hcl")
	broken := strings.Replace(string(b), "models = [train.one]", "models = [train.none]", 1)
	if err := os.WriteFile("broken.hcl", []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	r := clitest.Run(t, "__complete", "show", "broken.hcl", "train.")
	if r.Code != root.ExitOK || !strings.Contains(r.Out, "train.one\n") || strings.Contains(r.Out+r.ErrOut, "Error") {
		t.Errorf("exit %d\n%s---\n%s", r.Code, r.Out, r.ErrOut)
	}
}

// KEY completes to the store's keys (12 digits, with the node that computed each), leaves
// out those already given, and never creates a store where there is none.
func TestCompleteKeys(t *testing.T) {
	workdir(t)
	if out := complete(t, "cache", "verify", ""); out != ":4\n" {
		t.Errorf("no store: %q", out)
	}
	if _, err := os.Stat("results"); !os.IsNotExist(err) {
		t.Fatalf("completion made a store: %v", err)
	}
	if r := clitest.Run(t, "apply", "exp.hcl"); r.Code != root.ExitOK {
		t.Fatalf("apply: %s", r.ErrOut)
	}
	keys := clitest.Keys(clitest.PlanJSON(t, "exp.hcl"))
	out := complete(t, "cache", "verify", keys["train.a[seed=0]"][:12], "")
	if n := strings.Count(out, "\n"); n != 5 || !strings.Contains(out, keys["train.a[seed=1]"][:12]+"\ttrain.a[seed=1]\n") || strings.Contains(out, keys["train.a[seed=0]"][:12]) {
		t.Errorf("keys:\n%s", out)
	}
	k := keys["dataset.toy"]
	if out := complete(t, "cache", "verify", k[:3]); !strings.HasPrefix(out, k[:12]+"\tdataset.toy\n") {
		t.Errorf("keys starting with %s:\n%s", k[:3], out)
	}
	if out := complete(t, "--store", filepath.Join(t.TempDir(), "none"), "cache", "verify", ""); out != ":4\n" {
		t.Errorf("--store elsewhere: %q", out)
	}
}

// Every command that takes an experiment file, an address or a key, and every --target
// and --evaluate flag, completes: a new command is covered or this test names it.
func TestEveryCommandCompletes(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	f := clitest.NewFactory(ios)
	var walk func(*cobra.Command)
	walk = func(cmd *cobra.Command) {
		takes := false
		for _, w := range []string{"FILE", "ADDR", "NODE", "KEY"} {
			takes = takes || strings.Contains(cmd.Use, w)
		}
		if takes && cmd.ValidArgsFunction == nil && !strings.Contains(cmd.Use, "JOBFILE") {
			t.Errorf("%s (%q) has no argument completion", cmd.CommandPath(), cmd.Use)
		}
		for _, flag := range []string{"target", "evaluate"} {
			if cmd.Flags().Lookup(flag) == nil {
				continue
			}
			if _, ok := cmd.GetFlagCompletionFunc(flag); !ok {
				t.Errorf("%s --%s has no completion", cmd.CommandPath(), flag)
			}
		}
		for _, c := range cmd.Commands() {
			walk(c)
		}
	}
	walk(root.NewCmd(f))
}
