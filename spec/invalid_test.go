package spec

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

var errorComment = regexp.MustCompile(`#\s*ERROR:\s*([^#]+)`)

// wantErrors reads the `# ERROR: <summary>` comments of a case file: line -> summaries.
func wantErrors(t *testing.T, src []byte) map[int][]string {
	t.Helper()
	want := map[int][]string{}
	sc := bufio.NewScanner(bytes.NewReader(src))
	for line := 1; sc.Scan(); line++ {
		for _, m := range errorComment.FindAllStringSubmatch(sc.Text(), -1) {
			want[line] = append(want[line], strings.TrimSpace(m[1]))
		}
	}
	return want
}

// TestInvalidFiles checks every case under testdata/invalid: each error diagnostic must
// sit on a line that announces its summary, and every announced error must appear.
func TestInvalidFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want := wantErrors(t, src)
			if len(want) == 0 {
				t.Fatal("case file announces no errors")
			}
			_, diags := Parse(path, src, LoadOptions{Registry: testRegistry, LookupEnv: noEnv})
			got := map[int][]string{}
			for _, d := range diags {
				if d.Subject == nil {
					t.Errorf("diagnostic without a subject: %s: %s", d.Summary, d.Detail)
					continue
				}
				if d.Subject.Filename != path {
					t.Errorf("diagnostic names file %q, want %q", d.Subject.Filename, path)
				}
				got[d.Subject.Start.Line] = append(got[d.Subject.Start.Line], d.Summary)
			}
			for _, m := range []map[int][]string{want, got} {
				for _, s := range m {
					sort.Strings(s)
				}
			}
			lines := map[int]bool{}
			for l := range want {
				lines[l] = true
			}
			for l := range got {
				lines[l] = true
			}
			var sorted []int
			for l := range lines {
				sorted = append(sorted, l)
			}
			sort.Ints(sorted)
			for _, l := range sorted {
				if strings.Join(want[l], "; ") != strings.Join(got[l], "; ") {
					t.Errorf("line %d: want %q, got %q", l, want[l], got[l])
				}
			}
			if t.Failed() {
				var buf bytes.Buffer
				exp, _ := Parse(path, src, LoadOptions{Registry: testRegistry, LookupEnv: noEnv})
				_ = WriteDiagnostics(&buf, exp.Files, diags, 0, false)
				t.Log("\n" + buf.String())
			}
		})
	}
}

func noEnv(string) (string, bool) { return "", false }
