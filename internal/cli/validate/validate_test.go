package validate_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"dmlrun/internal/cli/clitest"
	"dmlrun/internal/cli/root"
	"dmlrun/internal/iostreams"
)

// pollCancel is a context that cancels itself on the at-th call of Err, the way decoding
// polls it: a SIGINT arriving mid-evaluation, without sleeps or timing.
type pollCancel struct {
	context.Context
	cancel    context.CancelFunc
	calls, at int
}

func TestValidate(t *testing.T) {
	clitest.Workdir(t)
	r := clitest.Run(t, "validate", "exp.hcl")
	if r.Code != root.ExitOK || r.Out != "exp.hcl: valid, 5 node(s)\n" {
		t.Errorf("exit %d out %q err %q", r.Code, r.Out, r.ErrOut)
	}
	r = clitest.Run(t, "validate", "--json", "invalid.hcl")
	if r.Code != root.ExitError {
		t.Errorf("invalid: exit %d", r.Code)
	}
	clitest.Golden(t, "validate_invalid.json", r.Out)
	r = clitest.Run(t, "validate", "invalid.hcl")
	if r.Code != root.ExitError || !strings.Contains(r.ErrOut, "on invalid.hcl line 3") {
		t.Errorf("text diagnostics: exit %d\n%s", r.Code, r.ErrOut)
	}
	if _, err := os.Stat("results"); !os.IsNotExist(err) {
		t.Errorf("validate created the store: %v", err)
	}
}

func TestDebugKeys(t *testing.T) {
	clitest.Workdir(t)
	ios, _, _, errOut := iostreams.Test()
	f := clitest.NewFactory(ios)
	f.LookupEnv = func(name string) (string, bool) {
		if name == "DMLRUN_DEBUG_KEYS" {
			return "1", true
		}
		return "", false
	}
	if code := root.Run(context.Background(), f, []string{"validate", "exp.hcl"}); code != root.ExitOK {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	for _, want := range []string{"key train.a[seed=1] = ", "  params.schedule.lr = 1e-05", "  params.seed = 1", "  input.0.dataset = "} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

func newPollCancel(at int) *pollCancel {
	ctx, cancel := context.WithCancel(context.Background())
	return &pollCancel{Context: ctx, cancel: cancel, at: at}
}

func (c *pollCancel) Err() error {
	if c.calls++; c.calls == c.at {
		c.cancel()
	}
	return c.Context.Err()
}

// TestValidateInterrupted: validate (text and --json) and plan stop decoding when the
// context is cancelled, with the usual "Interrupted" message and exit code 1, and print no
// verdict or diagnostics from the unfinished decoding. Before, decoding ignored the
// context: a cancelled validate printed "valid", and on fan.hcl (10^10 values) it ran on
// for hours after Ctrl-C.
func TestValidateInterrupted(t *testing.T) {
	clitest.Workdir(t)
	var fan strings.Builder
	fan.WriteString("locals {\n  a0 = \"xxxxxxxxxx\"\n")
	for i := 1; i <= 10; i++ {
		fmt.Fprintf(&fan, "  a%d = [%s]\n", i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("local.a%d, ", i-1), 10), ", "))
	}
	fan.WriteString("}\n")
	if err := os.WriteFile("fan.hcl", []byte(fan.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cancelled := func() context.Context {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx
	}
	during := func() context.Context { return newPollCancel(30) }
	cases := []struct {
		name string
		ctx  func() context.Context
		args []string
	}{
		{"validate, cancelled before", cancelled, []string{"validate", "exp.hcl"}},
		{"validate --json, cancelled before", cancelled, []string{"validate", "--json", "exp.hcl"}},
		{"plan, cancelled before", cancelled, []string{"plan", "exp.hcl"}},
		{"validate, cancelled while evaluating", during, []string{"validate", "fan.hcl"}},
		{"validate --json, cancelled while evaluating", during, []string{"validate", "--json", "fan.hcl"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := clitest.RunContext(t, c.ctx(), c.args...)
			if r.Code != root.ExitError {
				t.Errorf("exit %d, want %d", r.Code, root.ExitError)
			}
			if !strings.HasPrefix(r.ErrOut, "Interrupted: ") || !strings.Contains(r.ErrOut, "context canceled") {
				t.Errorf("stderr %q, want the Interrupted message", r.ErrOut)
			}
			if r.Out != "" || strings.Contains(r.ErrOut, "Error:") {
				t.Errorf("printed a verdict or diagnostics of an unfinished decoding:\nout %q\nerr %q", r.Out, r.ErrOut)
			}
		})
	}
	if _, err := os.Stat("results"); !os.IsNotExist(err) {
		t.Errorf("an interrupted plan created the store: %v", err)
	}
}
