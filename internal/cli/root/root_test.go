package root

import (
	"context"
	"strings"
	"testing"

	"dmlrun/internal/cli/cmdutil"
	"dmlrun/internal/iostreams"
	"dmlrun/stage"

	"github.com/spf13/cobra"
)

// run runs one command line on the real tree, plus the given commands, with no stages.
func run(t *testing.T, extra []*cobra.Command, args ...string) (ExitCode, string, string) {
	t.Helper()
	stages, err := stage.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	ios, _, out, errOut := iostreams.Test()
	f := cmdutil.NewFactory(ios, stages)
	f.TorchVersion = func() string { return "none" }
	root := NewCmd(f)
	root.AddCommand(extra...)
	code := execute(context.Background(), f, root, args)
	return code, out.String(), errOut.String()
}

// Each typed error a command returns becomes its exit code here, with its message printed
// once and the usage only for flag misuse.
func TestExitCodeMapping(t *testing.T) {
	fail := func(name string, err error) *cobra.Command {
		return &cobra.Command{Use: name, RunE: func(*cobra.Command, []string) error { return err }}
	}
	extra := []*cobra.Command{
		fail("regress", &cmdutil.RegressionError{Check: "nir_not_worse", Regressions: []string{"e_recall@1: 0.61 < 0.64 - 0.02"}}),
		fail("changes", &cmdutil.ChangesPresentError{Changes: 3}),
		fail("silent", cmdutil.SilentError),
		fail("flag", cmdutil.FlagErrorf("--x: want y")),
		fail("plain", context.DeadlineExceeded),
		fail("cancelled", context.Canceled),
	}
	cases := []struct {
		args    []string
		code    ExitCode
		errOut  string // in stderr
		noUsage bool
	}{
		{[]string{"regress"}, ExitRegression, "check nir_not_worse: 1 regression(s)\n  e_recall@1", true},
		{[]string{"changes"}, ExitChanges, "", true},
		{[]string{"silent"}, ExitError, "", true},
		{[]string{"flag"}, ExitError, "Error: --x: want y\n\nUsage:", false},
		{[]string{"plain"}, ExitError, "Error: context deadline exceeded\n", true},
		{[]string{"cancelled"}, ExitError, "Interrupted: context canceled\nFinished nodes are kept in the store", true},
		{[]string{"bogus"}, ExitError, `Error: unknown command "bogus" for "dmlrun"`, false},
		{[]string{"version", "--frobnicate"}, ExitError, "Error: unknown flag: --frobnicate\n\nUsage:", false},
		{[]string{"version"}, ExitOK, "", true},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, _, errOut := run(t, extra, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.errOut) || (tc.noUsage && strings.Contains(errOut, "Usage:")) {
				t.Errorf("exit %d, want %d; stderr %q, want %q", code, tc.code, errOut, tc.errOut)
			}
			if tc.errOut == "" && errOut != "" {
				t.Errorf("stderr %q, want nothing", errOut)
			}
		})
	}
}

func TestVersionAndCompletion(t *testing.T) {
	if code, out, _ := run(t, nil, "version"); code != ExitOK || !strings.Contains(out, "dmlrun dev (") || !strings.Contains(out, "libtorch none") {
		t.Errorf("version: %d %q", code, out)
	}
	if code, out, _ := run(t, nil, "--version"); code != ExitOK || out != "dmlrun dev\n" {
		t.Errorf("--version: %d %q", code, out)
	}
	if code, out, _ := run(t, nil, "completion", "bash"); code != ExitOK || !strings.Contains(out, "bash completion") {
		t.Errorf("completion: %d", code)
	}
}

// Every command of the tree is there, each from its own package.
func TestCommands(t *testing.T) {
	f := cmdutil.NewFactory(nil, nil)
	var names []string
	for _, c := range NewCmd(f).Commands() {
		names = append(names, c.Name())
		if c.Hidden != (c.Name() == "run-node") {
			t.Errorf("%s: hidden %v; only run-node (what Slurm jobs run) is hidden", c.Name(), c.Hidden)
		}
	}
	if got := strings.Join(names, " "); got != "apply cache diff export inspect plan run-node show stages validate version" {
		t.Errorf("commands: %s", got)
	}
}
