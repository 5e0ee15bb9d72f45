package torch

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommandsWithoutTensorsMapNoLibtorch builds the real dmlrun (its real stage registry
// lives in cmd/dmlrun) and runs the commands a login node runs (a no-op apply too needs no
// libtorch, but needs a trained store: bench/startup checks it) under the dynamic loader's
// own trace (LD_DEBUG=libs, one file per process): none may load libdmlshim or libtorch,
// and validate still works when no shim can be found at all. `dmlrun version`, which
// loads libtorch on purpose, is the control that the trace does show a load.
func TestCommandsWithoutTensorsMapNoLibtorch(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/dmlrun")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build cmd/dmlrun (the device machine runs test binaries only)")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "dmlrun")
	build := exec.Command(goTool, "build", "-o", bin, "./cmd/dmlrun")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/dmlrun: %v\n%s", err, out)
	}
	store := filepath.Join(tmp, "store")
	const exp = "experiments/quickstart.hcl"
	cases := []struct {
		name     string
		args     []string
		env      []string
		wantZero bool   // exit status 0 required (else 0 or 1: no artifacts in the store)
		loads    bool   // the control: this one maps libtorch
		wantOut  string // in stdout or stderr
	}{
		{name: "validate", args: []string{"validate", exp}, wantZero: true},
		{name: "validate --json", args: []string{"validate", "--json", exp}, wantZero: true},
		{name: "validate without any shim", args: []string{"validate", exp}, env: []string{"DMLRUN_SHIM=/nonexistent/libdmlshim.so"}, wantZero: true},
		{name: "plan", args: []string{"plan", exp, "--store", store}},
		{name: "show", args: []string{"show", exp, "report.quickstart", "--store", store}},
		{name: "diff", args: []string{"diff", exp, "baseline", "nir", "--store", store}},
		{name: "cache ls", args: []string{"cache", "ls", "--store", store}, wantZero: true},
		{name: "cache verify", args: []string{"cache", "verify", "--store", store}},
		{name: "cache gc -n", args: []string{"cache", "gc", "-n", exp, "--store", store}},
		{name: "stages", args: []string{"stages"}, wantZero: true},
		{name: "help", args: []string{"--help"}, wantZero: true},
		{name: "version without any shim", args: []string{"version"}, env: []string{"DMLRUN_SHIM=/nonexistent/libdmlshim.so"}, wantZero: true,
			wantOut: "libtorch not loaded: cannot load libdmlshim.so from DMLRUN_SHIM=/nonexistent/libdmlshim.so"},
		{name: "version", args: []string{"version"}, wantZero: true, loads: true, wantOut: "(shim "},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			trace := filepath.Join(tmp, "ld", strings.Repeat("x", i+1))
			if err := os.MkdirAll(trace, 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, c.args...)
			cmd.Dir = root
			var env []string
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "DMLRUN_SHIM=") && !strings.HasPrefix(kv, "LD_DEBUG") {
					env = append(env, kv)
				}
			}
			cmd.Env = append(append(env, "LD_DEBUG=libs", "LD_DEBUG_OUTPUT="+filepath.Join(trace, "ld"), "NO_COLOR=1"), c.env...)
			out, err := cmd.CombinedOutput()
			code := 0
			var ee *exec.ExitError
			switch {
			case errors.As(err, &ee):
				code = ee.ExitCode()
			case err != nil:
				t.Fatal(err)
			}
			if code < 0 || code > 1 || (c.wantZero && code != 0) {
				t.Fatalf("dmlrun %s: exit %d\n%s", strings.Join(c.args, " "), code, out)
			}
			if strings.Contains(string(out), "libdmlshim not loaded") && !c.loads && c.wantOut == "" {
				t.Errorf("dmlrun %s asked libtorch for something:\n%s", strings.Join(c.args, " "), out)
			}
			if c.wantOut != "" && !strings.Contains(string(out), c.wantOut) {
				t.Errorf("dmlrun %s: output lacks %q:\n%s", strings.Join(c.args, " "), c.wantOut, out)
			}
			files, _ := filepath.Glob(filepath.Join(trace, "ld.*"))
			if len(files) == 0 {
				t.Skip("the dynamic loader wrote no LD_DEBUG trace (LD_DEBUG_OUTPUT ignored here)")
			}
			var loaded []string
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				for _, l := range strings.Split(string(b), "\n") {
					if strings.Contains(l, "libdmlshim") || strings.Contains(l, "libtorch") {
						loaded = append(loaded, strings.TrimSpace(l))
					}
				}
			}
			if c.loads && len(loaded) == 0 {
				t.Errorf("dmlrun %s: the trace shows no libdmlshim or libtorch load, so it cannot show their absence either", strings.Join(c.args, " "))
			}
			if !c.loads && len(loaded) > 0 {
				t.Errorf("dmlrun %s loaded\n%s", strings.Join(c.args, " "), strings.Join(loaded, "\n"))
			}
		})
	}
}
