// Package tfeventstest decodes event files with internal/tfevents/testdata/read_events.py, a
// reader that shares no code with package tfevents (its own CRC32C, framing and wire-format
// parsing), for the tests of tfevents and of the stages that write event files.
package tfeventstest

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"dmlrun/internal/tfevents"
)

// Python is the interpreter the reader runs with (Debian's, as make deps-test installs it).
const Python = "/usr/bin/python3"

// Script is the reader's path.
func Script() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", "read_events.py")
}

// Run runs the reader on path and returns its output (JSON) or its error with stderr.
func Run(path string) ([]byte, error) {
	out, err := exec.Command(Python, Script(), path).Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out, fmt.Errorf("read_events.py: %v: %s", err, ee.Stderr)
	}
	return out, err
}

// Read decodes path with the reader; ok is false (and the test is told why in its log) when
// Python is not there.
func Read(t testing.TB, path string) (events []tfevents.Event, ok bool) {
	t.Helper()
	if _, err := os.Stat(Python); err != nil {
		t.Logf("%s not found (make deps-test installs it), the Python reader is not run: %v", Python, err)
		return nil, false
	}
	out, err := Run(path)
	if err != nil {
		t.Fatal(err)
	}
	// Floats come as hex bit patterns, so NaN, -0 and infinities survive JSON.
	var recs []struct {
		WallTime    string `json:"wall_time"`
		Step        int64  `json:"step"`
		FileVersion string `json:"file_version"`
		Values      []struct {
			Tag    string `json:"tag"`
			Simple string `json:"simple_value"`
		} `json:"values"`
	}
	if err := json.Unmarshal(out, &recs); err != nil {
		t.Fatalf("read_events.py: %v\n%s", err, out)
	}
	for _, r := range recs {
		var wt uint64
		if _, err := fmt.Sscanf(r.WallTime, "%x", &wt); err != nil {
			t.Fatalf("wall_time %q: %v", r.WallTime, err)
		}
		e := tfevents.Event{WallTime: math.Float64frombits(wt), Step: r.Step, FileVersion: r.FileVersion}
		for _, v := range r.Values {
			var bits uint32
			if _, err := fmt.Sscanf(v.Simple, "%x", &bits); err != nil {
				t.Fatalf("%s: simple_value %q: %v", v.Tag, v.Simple, err)
			}
			e.Values = append(e.Values, tfevents.Value{Tag: v.Tag, Simple: math.Float32frombits(bits)})
		}
		events = append(events, e)
	}
	return events, true
}
