package tfevents_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dmlrun/internal/tfevents"
	"dmlrun/internal/tfevents/tfeventstest"
)

// TestPythonReader decodes a file with testdata/read_events.py, a reader that shares no code
// with this package (its own CRC32C, framing and wire-format parsing).
func TestPythonReader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.out.tfevents.0.test")
	if err := os.WriteFile(path, tfevents.Encode(0, tfevents.Sample), 0o644); err != nil {
		t.Fatal(err)
	}
	got, ok := tfeventstest.Read(t, path)
	if !ok {
		t.Skip("no Python reader")
	}
	tfevents.SameEvents(t, got, append([]tfevents.Event{tfevents.Header(0)}, tfevents.Sample...))

	// A corrupt byte is caught by its CRC.
	b := tfevents.Encode(0, tfevents.Sample)
	b[len(b)-6] ^= 1
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := tfeventstest.Run(path); err == nil || !strings.Contains(err.Error(), "data CRC") {
		t.Errorf("read_events.py on a corrupt file: %v", err)
	}
}
