package experiments_test

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var updateReadme = flag.Bool("update-readme", false, "rewrite the README's generated stage reference")

// The README's "Stages and their arguments" section must be exactly what `dmlrun stages`
// prints, so the documentation cannot drift from the schemas validation uses.
// Regenerate with: go test ./experiments -run TestReadmeStageReference -update-readme
func TestReadmeStageReference(t *testing.T) {
	const begin, end = "<!-- stages:begin -->\n", "<!-- stages:end -->"
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	i, j := strings.Index(readme, begin), strings.Index(readme, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q ... %q markers", begin, end)
	}
	var b strings.Builder
	if err := dmlrunStages(t).WriteReference(&b); err != nil {
		t.Fatal(err)
	}
	want := b.String()
	got := readme[i+len(begin) : j]
	if got == want {
		return
	}
	if *updateReadme {
		if err := os.WriteFile("../README.md", []byte(readme[:i+len(begin)]+want+readme[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's stage reference is stale; run: go test ./experiments -run TestReadmeStageReference -update-readme")
}
