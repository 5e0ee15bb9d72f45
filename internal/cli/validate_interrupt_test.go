package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"dmlrun/internal/iostreams"
)

// pollCancel is a context that cancels itself on the at-th call of Err, the way decoding
// polls it: a SIGINT arriving mid-evaluation, without sleeps or timing.
type pollCancel struct {
	context.Context
	cancel    context.CancelFunc
	calls, at int
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

// dmlrunContext is dmlrun with the context Main would pass (cancelled on SIGINT/SIGTERM).
func dmlrunContext(t *testing.T, ctx context.Context, args ...string) result {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	f := NewFactory(ios, testStages, nil)
	f.Version = "test"
	f.TorchVersion = func() string { return "none" }
	f.LookupEnv = func(string) (string, bool) { return "", false }
	f.Now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	return result{Run(ctx, f, args), out.String(), errOut.String()}
}

// TestValidateInterrupted: validate (text and --json) and plan stop decoding when the
// context is cancelled, with the usual "Interrupted" message and exit code 1, and print no
// verdict or diagnostics from the unfinished decoding. Before, decoding ignored the
// context: a cancelled validate printed "valid", and on fan.hcl (10^10 values) it ran on
// for hours after Ctrl-C.
func TestValidateInterrupted(t *testing.T) {
	workdir(t)
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
			r := dmlrunContext(t, c.ctx(), c.args...)
			if r.code != ExitError {
				t.Errorf("exit %d, want %d", r.code, ExitError)
			}
			if !strings.HasPrefix(r.errOut, "Interrupted: ") || !strings.Contains(r.errOut, "context canceled") {
				t.Errorf("stderr %q, want the Interrupted message", r.errOut)
			}
			if r.out != "" || strings.Contains(r.errOut, "Error:") {
				t.Errorf("printed a verdict or diagnostics of an unfinished decoding:\nout %q\nerr %q", r.out, r.errOut)
			}
		})
	}
	if _, err := os.Stat("results"); !os.IsNotExist(err) {
		t.Errorf("an interrupted plan created the store: %v", err)
	}
}
