package apply

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"dmlrun/pipeline"
)

// fakeDmlrun writes a shell script that stands in for dmlrun run-node: body runs with the
// job file as $5 (after --store S run-node --local).
func fakeDmlrun(t *testing.T, body string) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "dmlrun")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return exe
}

func testJob() *pipeline.Job {
	return &pipeline.Job{Format: pipeline.JobFormat, Addr: "train.a", Stage: "train", Key: strings.Repeat("ab", 32), Params: map[string]any{}, Inputs: []pipeline.JobInput{}}
}

// TestIsolatorRun: run-node gets the store, --local and the job file; a failing process's
// error is the one its outcome file records; the job and outcome files are removed.
func TestIsolatorRun(t *testing.T) {
	var out bytes.Buffer
	exe := fakeDmlrun(t, `[ "$1 $2 $3 $4" = "--store /st run-node --local" ] || { echo "args: $*"; exit 9; }
grep -q '"addr": "train.a"' "$5" || exit 8
printf 'train.a: running\ntrain.a: fai'
printf 'led: boom\n' >&2
printf '{"addr":"train.a","status":"failed","error":"epoch 1: boom"}' > "${5%.json}.outcome.json"
exit 1`)
	iso, err := newIsolator(exe, "/st", false, &out)
	if err != nil {
		t.Fatal(err)
	}
	defer iso.close()
	err = iso.run(context.Background(), testJob())
	if err == nil || err.Error() != "epoch 1: boom" {
		t.Fatalf("err = %v, want the outcome's error", err)
	}
	if got := out.String(); got != "train.a: running\ntrain.a: failed: boom\n" {
		t.Errorf("output %q: want whole lines", got)
	}
	if left, _ := os.ReadDir(iso.dir); len(left) != 0 {
		t.Errorf("left in the job folder: %v", left)
	}
}

// TestIsolatorWithoutOutcome: a process that died before writing its outcome is named with
// its exit status.
func TestIsolatorWithoutOutcome(t *testing.T) {
	iso, err := newIsolator(fakeDmlrun(t, "exit 137"), "/st", false, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	defer iso.close()
	if err := iso.run(context.Background(), testJob()); err == nil || !strings.Contains(err.Error(), "run-node: exit status 137") {
		t.Fatalf("err = %v", err)
	}
}

// readyWriter closes ready when a line "ready" has been written to it.
type readyWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	ready chan struct{}
	once  sync.Once
}

func (w *readyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), "ready\n") {
		w.once.Do(func() { close(w.ready) })
	}
	return len(p), nil
}

// TestIsolatorCancel: cancelling the apply sends the process SIGTERM (run-node then stops a
// training at a step boundary, keeping its checkpoint) and waits for it to end; it is not
// killed. The script says when its trap is set, so nothing is raced.
func TestIsolatorCancel(t *testing.T) {
	w := &readyWriter{ready: make(chan struct{})}
	exe := fakeDmlrun(t, `trap 'echo "got TERM"; exit 3' TERM
echo ready
while :; do sleep 0.01; done`)
	iso, err := newIsolator(exe, "/st", false, w)
	if err != nil {
		t.Fatal(err)
	}
	defer iso.close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-w.ready; cancel() }()
	err = iso.run(ctx, testJob())
	if err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("err = %v, want the script's exit status 3 after its TERM trap", err)
	}
	if !strings.Contains(w.buf.String(), "got TERM") {
		t.Errorf("output %q: the process did not get SIGTERM", w.buf.String())
	}
}
