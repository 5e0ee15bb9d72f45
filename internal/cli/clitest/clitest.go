package clitest

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dmlrun/internal/cli/cmdutil"
	"dmlrun/internal/cli/root"
	"dmlrun/internal/failpoint"
	"dmlrun/internal/iostreams"
	"dmlrun/pipeline"
)

// The test experiments: exp.hcl (a dataset, train "a" over two seeds with var.lr, an
// evaluate over both: 5 nodes), exp.yaml (the same in YAML), invalid.hcl (two problems).
//
//go:embed testdata/exp.hcl testdata/exp.yaml testdata/invalid.hcl
var experiments embed.FS

// Workdir writes the test experiments into a fresh directory and makes it the working
// directory, so the default store results/ lands there; the run log is cleared.
func Workdir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ents, err := experiments.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := experiments.ReadFile("testdata/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
	TakeRuns()
	return dir
}

// NewFactory is the factory of the in-process dmlrun: Stages, version "test", libtorch
// "none", an empty environment and a fixed clock.
func NewFactory(ios *iostreams.IOStreams) *cmdutil.Factory {
	f := cmdutil.NewFactory(ios, Stages)
	f.Version = "test"
	f.TorchVersion = func() string { return "none" }
	f.LookupEnv = func(string) (string, bool) { return "", false }
	f.Now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	return f
}

// Result is what one command line did.
type Result struct {
	Code        root.ExitCode
	Out, ErrOut string
}

// Run runs one command line in-process (root.Run) with NewFactory's factory.
func Run(t *testing.T, args ...string) Result {
	t.Helper()
	return RunContext(t, context.Background(), args...)
}

// RunContext is Run with the context Main would pass (cancelled on SIGINT and SIGTERM).
func RunContext(t *testing.T, ctx context.Context, args ...string) Result {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	code := root.Run(ctx, NewFactory(ios), args)
	return Result{code, out.String(), errOut.String()}
}

// PlanJSON runs plan --json and decodes the plan; a failing plan fails the test.
func PlanJSON(t *testing.T, args ...string) *pipeline.Plan {
	t.Helper()
	r := Run(t, append([]string{"plan", "--json"}, args...)...)
	if r.Code != root.ExitOK {
		t.Fatalf("plan: exit %d\n%s", r.Code, r.ErrOut)
	}
	var p pipeline.Plan
	if err := json.Unmarshal([]byte(r.Out), &p); err != nil {
		t.Fatalf("plan --json: %v\n%s", err, r.Out)
	}
	return &p
}

// Keys maps each node address of a plan to its key.
func Keys(p *pipeline.Plan) map[string]string {
	m := map[string]string{}
	for _, n := range p.Nodes {
		m[n.Addr] = n.Key
	}
	return m
}

// The test binary doubles as the dmlrun binary (as Go's os/exec tests do): with
// helperEnv=1 it runs root.Main with Stages and the arguments in argsEnv.
const (
	helperEnv = "DMLRUN_CLI_HELPER"
	argsEnv   = "DMLRUN_CLI_ARGS"
)

// MainIfHelper is the first thing a command package's TestMain calls: in a child process
// started by Helper it runs dmlrun and exits; otherwise it returns at once. Without
// argsEnv the arguments are the command line's: the child is one that dmlrun itself
// started (apply -j N's run-node processes, see NodeProcesses).
func MainIfHelper() {
	if os.Getenv(helperEnv) == "1" {
		args := os.Args[1:]
		if a := os.Getenv(argsEnv); a != "" {
			args = strings.Split(a, " ")
		}
		os.Args = append([]string{"dmlrun"}, args...)
		os.Exit(int(root.Main(Stages, nil)))
	}
}

// NodeProcesses lets the commands that t runs start dmlrun processes of their own (apply
// -j N runs each libtorch node as `dmlrun run-node`): dmlrun's executable is then this test
// binary, which acts as dmlrun when the package's TestMain calls MainIfHelper.
func NodeProcesses(t *testing.T) {
	t.Setenv(helperEnv, "1")
	t.Setenv(runFileEnv, filepath.Join(t.TempDir(), "runs.txt"))
}

// Helper returns a command that runs this test binary as `dmlrun <args>` (space-separated)
// in the working directory, with env added; the package's TestMain must call MainIfHelper.
func Helper(t *testing.T, args string, env ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(append(os.Environ(), helperEnv+"=1", argsEnv+"="+args), env...)
	return cmd
}

// ApplyKilledAt runs "dmlrun apply exp.hcl" in a child process with a store fault point
// armed to kill it, and checks that it died there.
func ApplyKilledAt(t *testing.T, point string) {
	t.Helper()
	out, err := Helper(t, "apply exp.hcl", failpoint.EnvVar+"="+point+"=kill").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ProcessState.String() != "signal: killed" || !strings.Contains(string(out), "fault injected at "+point) {
		t.Fatalf("apply with %s=kill: %v, want killed there\n%s", point, err, out)
	}
}
