package cli

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestMain doubles as the dmlrun binary (as Go's os/exec tests do): with
// DMLRUN_CLI_HELPER=1 the test binary runs Main with the arguments in DMLRUN_CLI_ARGS.
func TestMain(m *testing.M) {
	if os.Getenv("DMLRUN_CLI_HELPER") == "1" {
		os.Args = append([]string{"dmlrun"}, strings.Split(os.Getenv("DMLRUN_CLI_ARGS"), " ")...)
		os.Exit(int(Main(testStages, nil)))
	}
	os.Exit(m.Run())
}

func TestInterruptKeepsFinishedAndResumes(t *testing.T) {
	workdir(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The helper's train stage writes DMLRUN_CLI_STARTED (here a pipe) once it is inside
	// its epoch loop; one read returns at that moment (0 bytes: the helper ended first).
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "DMLRUN_CLI_HELPER=1", "DMLRUN_CLI_ARGS=apply exp.hcl", "DMLRUN_CLI_STARTED=/dev/fd/3")
	cmd.ExtraFiles = []*os.File{pw}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if _, err := pr.Read(make([]byte, 1)); err != nil {
		cmd.Wait()
		t.Fatalf("train never started (%v); stderr:\n%s", err, stderr.String())
	}
	pr.Close()
	cmd.Process.Signal(syscall.SIGINT)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != int(ExitError) {
		t.Fatalf("exit: %v, want code 1\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "Interrupted:") || !strings.Contains(stderr.String(), "train.a[seed=0]") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
	// The dataset finished before the interrupt and stays; train resumes from its checkpoint.
	p := planJSON(t, "exp.hcl")
	got := map[string]string{}
	for _, n := range p.Nodes {
		got[n.Addr] = string(n.Action)
	}
	if got["dataset.toy"] != "cached" || got["train.a[seed=0]"] != "resume" {
		t.Errorf("plan after interrupt: %v", got)
	}
	r := dmlrun(t, "apply", "exp.hcl")
	if r.code != ExitOK {
		t.Fatalf("apply after interrupt: %d\n%s", r.code, r.errOut)
	}
	key := keys(p)["train.a[seed=0]"]
	b, err := os.ReadFile(filepath.Join("results", key[:2], key, "log.txt"))
	if err != nil || !strings.Contains(string(b), "resumed") {
		t.Errorf("train log %q, %v: want the resumed run's line", b, err)
	}
	if _, err := os.Stat(filepath.Join("results", key[:2], key, "epoch-1.ckpt")); err != nil {
		t.Errorf("checkpoint of the interrupted run not carried over: %v", err)
	}
}
