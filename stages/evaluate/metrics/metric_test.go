package metrics

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestMetricTable: every family is documented, its examples and Default parse, and no name
// belongs to two families.
func TestMetricTable(t *testing.T) {
	for _, m := range Metrics() {
		if len(m.Names) == 0 || m.Summary == "" || m.Doc == "" {
			t.Errorf("family %v: names, summary or doc missing", m.Names)
		}
		for _, n := range m.Names {
			if m.Param != "" && !strings.HasSuffix(n, m.Param) {
				t.Errorf("pattern %q does not end with its placeholder %q", n, m.Param)
			}
			if m.Param == "" && Check(n) != nil {
				t.Errorf("fixed name %q does not parse: %v", n, Check(n))
			}
		}
		for _, e := range m.Examples {
			if err := Check(e); err != nil {
				t.Errorf("example %q: %v", e, err)
			}
		}
	}
	for _, n := range Default {
		if err := Check(n); err != nil {
			t.Errorf("default %q: %v", n, err)
		}
	}
	// Each valid name is claimed by exactly one family.
	for _, n := range append(Candidates("x@3"), Default...) {
		claims := 0
		for _, f := range builtinMetrics {
			if _, ok, _ := f.parse(n); ok {
				claims++
			}
		}
		if claims != 1 {
			t.Errorf("%q is claimed by %d families", n, claims)
		}
	}
}

// TestMetricNamesDoc pins the accepted-names line that the evaluate stage's reference shows.
func TestMetricNamesDoc(t *testing.T) {
	want := "e_recall@K, c_recall@K, mAP_K (e.g. mAP_1000), c_mAP_K, mAP@R, c_mAP@R, nmi, f1, " +
		"dists@intra, dists@inter, dists@intra_over_inter, rho_spectrum@M (M a non-zero integer, optional suffix @embeds)"
	if got := Summary(); got != want {
		t.Errorf("Summary() = %q\nwant %q", got, want)
	}
	wantNames := []string{"e_recall@K", "c_recall@K", "mAP_K", "c_mAP_K", "mAP@R", "c_mAP@R", "nmi", "f1",
		"dists@intra", "dists@inter", "dists@intra_over_inter", "rho_spectrum@M"}
	if got := Names(); !slices.Equal(got, wantNames) {
		t.Errorf("Names() = %q", got)
	}
}

func TestCheckNames(t *testing.T) {
	cases := []struct {
		name   string
		reason string // "" for a valid name; "unknown" for a name of no family
	}{
		{"e_recall@1", ""},
		{"c_recall@1000", ""},
		{"mAP_1000", ""},
		{"c_mAP@R", ""},
		{"dists@intra_over_inter", ""},
		{"rho_spectrum@-3@embeds", ""},
		{"e_recall@0", "K must be a whole number of at least 1"},
		{"e_recall@01", "K must be"},
		{"e_recall@+1", "K must be"},
		{"mAP_", "K must be"},
		{"dists@outer", "the dists metrics are"},
		{"rho_spectrum@0", "M must be a non-zero integer"},
		{"rho_spectrum@x", "M must be"},
		{"recal@1", "unknown"},
		{"c_nmi", "unknown"},
		{"NMI", "unknown"},
		{"", "unknown"},
	}
	for _, c := range cases {
		err := Check(c.name)
		var ne *NameError
		switch {
		case c.reason == "":
			if err != nil {
				t.Errorf("%q: %v", c.name, err)
			}
		case !errors.As(err, &ne) || ne.Name != c.name:
			t.Errorf("%q: error %v, want a *NameError", c.name, err)
		case c.reason == "unknown":
			if ne.Reason != "" || !strings.Contains(err.Error(), "unknown metric") {
				t.Errorf("%q: %v, want an unknown-metric error", c.name, err)
			}
		case !strings.Contains(ne.Reason, c.reason):
			t.Errorf("%q: reason %q, want %q", c.name, ne.Reason, c.reason)
		}
	}
}

func TestCandidates(t *testing.T) {
	cases := []struct {
		name string
		has  []string
	}{
		{"recal@1", []string{"e_recall@1", "c_recall@1", "mAP_1", "nmi", "mAP@R"}},
		{"map@1000", []string{"mAP_1000", "c_mAP_1000", "e_recall@1000"}},
		{"rho_spectrum@-2@embed", []string{"rho_spectrum@1", "mAP@R"}},
		{"rho@-2", []string{"rho_spectrum@-2", "rho_spectrum@1"}},
		{"nmii", []string{"nmi", "f1", "e_recall@1"}},
	}
	for _, c := range cases {
		got := Candidates(c.name)
		for _, h := range c.has {
			if !slices.Contains(got, h) {
				t.Errorf("Candidates(%q) = %q, lacks %q", c.name, got, h)
			}
		}
		for _, g := range got {
			if Check(g) != nil {
				t.Errorf("Candidates(%q) offers invalid %q", c.name, g)
			}
		}
		// e_recall comes before c_recall, so a tie in distance suggests the L2 one.
		if i, j := slices.Index(got, "e_recall@1"), slices.Index(got, "c_recall@1"); i >= 0 && j >= 0 && i > j {
			t.Errorf("Candidates(%q): c_recall@1 before e_recall@1", c.name)
		}
	}
}
