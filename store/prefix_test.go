package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	s := openTest(t)
	// Three keys in shard 3f: two share their first 13 digits, the third only 2.
	a := "3fa2c1d0e9ab0" + strings.Repeat("1", 51)
	b := "3fa2c1d0e9ab0" + strings.Repeat("2", 51)
	c := "3f00000000000" + strings.Repeat("3", 51)
	for _, k := range []string{a, b, c} {
		commitFiles(t, s, k, map[string]string{"x": k})
	}
	// Neither a file nor a link in the shard folder is an artifact.
	link := "3fa2c1d0e9ab9" + strings.Repeat("4", 51)
	if err := os.Symlink(s.ArtifactDir(c), filepath.Join(s.Dir(), "3f", link)); err != nil {
		t.Fatal(err)
	}
	file := "3fa2c1d0e9ab8" + strings.Repeat("5", 51)
	if err := os.WriteFile(filepath.Join(s.Dir(), "3f", file), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		prefix, want string
		candidates   []string // an ambiguous prefix
		err          string   // any other error, a substring
	}{
		{prefix: a, want: a},
		{prefix: a[:14], want: a},
		{prefix: c[:8], want: c},
		{prefix: c[:12], want: c},
		{prefix: a[:12], candidates: []string{a, b}, err: "key prefix 3fa2c1d0e9ab is ambiguous: 2 artifacts match (3fa2c1d0e9ab01, 3fa2c1d0e9ab02); give more digits"},
		{prefix: "3fa2c1d0e9ab9", err: "no artifact in store " + s.Dir() + " has a key starting with 3fa2c1d0e9ab9"},
		{prefix: "3fa2c1d0e9ab8", err: "no artifact in store"},
		{prefix: "aaaaaaaa", err: "no artifact in store"}, // no shard folder
		{prefix: "3fa2c1d", err: `key prefix "3fa2c1d" is too short: give at least 8 hex digits`},
		{prefix: "3FA2C1D0", err: `"3FA2C1D0" is not a content key or key prefix`},
		{prefix: "train.a[seed=0]", err: "is not a content key or key prefix"},
		{prefix: a + "0", err: "longer than a content key"},
	} {
		t.Run(tc.prefix, func(t *testing.T) {
			got, err := s.Resolve(tc.prefix)
			var pe *PrefixError
			switch {
			case tc.want != "":
				if got != tc.want || err != nil {
					t.Errorf("Resolve = %s, %v; want %s", got, err, tc.want)
				}
				return
			case err == nil:
				t.Fatalf("Resolve = %s, want an error", got)
			case !strings.Contains(err.Error(), tc.err):
				t.Errorf("error %q, want %q", err, tc.err)
			}
			if tc.candidates != nil && (!errors.As(err, &pe) || strings.Join(pe.Candidates, " ") != strings.Join(tc.candidates, " ")) {
				t.Errorf("candidates of %v, want %v", err, tc.candidates)
			}
		})
	}
}

func TestPrefixErrorShortest(t *testing.T) {
	e := &PrefixError{Candidates: []string{"aaaa0000000000001", "aaaa0000000000002", "aaab0000000000000"}}
	if got := strings.Join(e.Shortest(), " "); got != "aaaa0000000000001 aaaa0000000000002 aaab0000000000000" {
		t.Errorf("Shortest = %s", got)
	}
	e = &PrefixError{Candidates: []string{"aaaa00000000000000001", "bbbb00000000000000002"}}
	if got := strings.Join(e.Shortest(), " "); got != "aaaa00000000 bbbb00000000" {
		t.Errorf("Shortest = %s", got)
	}
}
