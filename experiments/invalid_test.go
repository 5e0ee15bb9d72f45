package experiments_test

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"dmlrun/spec"
)

// errorMark is `# ERROR: <summary>` or `# ERROR: <summary> | <text the detail contains>`.
var errorMark = regexp.MustCompile(`#\s*ERROR:\s*([^#|]+?)\s*(?:\|\s*([^#]+?))?\s*(?:#|$)`)

type wanted struct{ summary, detail string }

// TestInvalidExperiments validates every file under testdata/invalid/ against the real
// stages: each case is an experiment with one absurd value (the ones issue 12 found passing
// validate, and the rest of the stages' rules), and each error must be reported on the line
// that announces it, with a column, and say what it announces.
func TestInvalidExperiments(t *testing.T) {
	reg := dmlrunStages(t)
	files, err := filepath.Glob("testdata/invalid/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 30 {
		t.Fatalf("%d cases, want at least 30", len(files))
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want := map[int][]wanted{}
			sc := bufio.NewScanner(bytes.NewReader(src))
			for line := 1; sc.Scan(); line++ {
				for _, m := range errorMark.FindAllStringSubmatch(sc.Text(), -1) {
					want[line] = append(want[line], wanted{m[1], m[2]})
				}
			}
			if len(want) == 0 {
				t.Fatal("case file announces no errors")
			}
			exp, diags := spec.Parse(path, src, spec.LoadOptions{Registry: reg, LookupEnv: func(string) (string, bool) { return "", false }})
			got := map[int][]string{}
			details := map[int]string{}
			for _, d := range diags {
				if d.Subject == nil || d.Subject.Start.Column < 1 {
					t.Errorf("diagnostic without a position: %s: %s", d.Summary, d.Detail)
					continue
				}
				got[d.Subject.Start.Line] = append(got[d.Subject.Start.Line], d.Summary)
				details[d.Subject.Start.Line] += d.Detail + "\n"
			}
			for line, ws := range want {
				var summaries []string
				for _, w := range ws {
					summaries = append(summaries, w.summary)
					if w.detail != "" && !strings.Contains(details[line], w.detail) {
						t.Errorf("line %d: no detail containing %q in:\n%s", line, w.detail, details[line])
					}
				}
				sort.Strings(summaries)
				sort.Strings(got[line])
				if strings.Join(summaries, "; ") != strings.Join(got[line], "; ") {
					t.Errorf("line %d: want %q, got %q", line, summaries, got[line])
				}
			}
			for line, s := range got {
				if _, ok := want[line]; !ok {
					t.Errorf("line %d: unexpected %q", line, s)
				}
			}
			if t.Failed() {
				var b strings.Builder
				_ = spec.WriteDiagnostics(&b, exp.Files, diags, 0, false)
				t.Log("\n" + b.String())
			}
		})
	}
}
