package metrics

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Metric is one family of evaluation metrics: a plug-in of the evaluate stage. Each family is
// one file that declares its Metric value (names, documentation, and how a name becomes a
// computation) and its name in builtinMetrics; Parse, Check, Names, Summary and the evaluate
// stage's argument description and "did you mean" all come from this table, and Compute
// runs what the parsed names ask for.
//
// A family lives in this package: parsing a name yields the unexported metric, which says
// which shared work the value needs (neighbour lists, k-means labels) so that Compute does
// each piece once for all requested metrics.
type Metric struct {
	// Names are the family's name patterns as documented ("e_recall@K", "c_recall@K"), the
	// placeholder written as Param.
	Names []string
	// Param is the placeholder letter at the end of the patterns ("K", "M"), "" when the
	// names are fixed.
	Param string
	// Summary is the family's entry in the evaluate stage's metrics description
	// ("mAP_K (e.g. mAP_1000), c_mAP_K").
	Summary string
	// Doc says what the metric measures and how (Markdown, for the evaluate README).
	Doc string
	// Examples are valid names (the defaults among them), offered by "did you mean".
	Examples []string

	// parse returns the metric that name denotes. ok is false when name is not of this
	// family; err is non-nil when it is, but its parameter is not valid (e_recall@0).
	parse func(name string) (m metric, ok bool, err error)
}

// metric is one parsed metric name: the shared work its value needs and how the value
// comes from it.
type metric struct {
	name string
	// cosine: the value uses the neighbours of the row-normalised embeddings by inner
	// product (c_ metrics) instead of the L2 neighbours.
	cosine bool
	// neighbours is how many neighbours (after dropping self) the value needs; nil: none.
	neighbours func(labels []int64) int
	// kmeans: the value needs the k-means labels.
	kmeans bool
	value  func(in *inputs) (float64, error)
}

// inputs is what Compute hands a metric's value function: the embeddings and labels, the
// neighbour lists it asked for (L2 or cosine) and the k-means result when it asked.
type inputs struct {
	x      Matrix
	labels []int64
	nn     Neighbours
	km     *KMeansResult
}

// builtinMetrics are the metric families in documentation order. Adding a metric is a new
// file and its name here.
var builtinMetrics = []*Metric{&recallMetric, &mapKMetric, &mapRMetric, &nmiMetric, &f1Metric, &distsMetric, &rhoMetric}

// Default is the original's default evaluation metric list, in its order: it is the
// evaluate block's default (so part of content keys) and the column order of reports, which
// is why it is written out rather than gathered from the families (a test checks that every
// name parses).
var Default = []string{"e_recall@1", "e_recall@2", "e_recall@4", "e_recall@10", "nmi", "f1", "mAP_1000"}

// Metrics returns the metric families in documentation order (copies).
func Metrics() []Metric {
	out := make([]Metric, len(builtinMetrics))
	for i, m := range builtinMetrics {
		out[i] = *m
		out[i].Names = slices.Clone(m.Names)
		out[i].Examples = slices.Clone(m.Examples)
	}
	return out
}

// Names returns every family's name patterns in documentation order ("e_recall@K",
// "c_recall@K", "mAP_K", ...).
func Names() []string {
	var out []string
	for _, m := range builtinMetrics {
		out = append(out, m.Names...)
	}
	return out
}

// Summary describes the accepted names in one line (the families' Summary fields), for
// the evaluate stage's argument description and error messages.
func Summary() string {
	parts := make([]string, len(builtinMetrics))
	for i, m := range builtinMetrics {
		parts[i] = m.Summary
	}
	return strings.Join(parts, ", ")
}

// NameError is a metric name Compute does not accept.
type NameError struct {
	Name string
	// Reason says what is wrong with a name of a known family ("K must be a whole number
	// of at least 1"); empty for a name of no family.
	Reason string
}

func (e *NameError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("metric %q: %s", e.Name, e.Reason)
	}
	return fmt.Sprintf("unknown metric %q; known: %s", e.Name, Summary())
}

// Check returns nil when Compute accepts name, else a *NameError.
func Check(name string) error {
	_, err := parseName(name)
	return err
}

func parseName(name string) (metric, error) {
	for _, f := range builtinMetrics {
		m, ok, err := f.parse(name)
		if !ok {
			continue
		}
		if err != nil {
			return metric{}, &NameError{Name: name, Reason: err.Error()}
		}
		m.name = name
		return m, nil
	}
	return metric{}, &NameError{Name: name}
}

// Parse checks metric names and returns an error naming every bad one (unknown, invalid
// or repeated).
func Parse(names []string) error {
	_, err := parse(names)
	return err
}

func parse(names []string) ([]metric, error) {
	var out []metric
	var bad []string
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			bad = append(bad, n+" (duplicate)")
			continue
		}
		seen[n] = true
		m, err := parseName(n)
		if err != nil {
			q := strconv.Quote(n)
			if r := err.(*NameError).Reason; r != "" {
				q += " (" + r + ")"
			}
			bad = append(bad, q)
			continue
		}
		out = append(out, m)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("unknown metric %s; known: %s", strings.Join(bad, ", "), Summary())
	}
	return out, nil
}

// Candidates returns valid names that a misspelt name may have meant, for "did you mean":
// every fixed name, every example, and every pattern with its placeholder replaced by the
// number name ends with ("recal@4" gives "e_recall@4", "c_recall@4", "mAP_4", ...).
func Candidates(name string) []string {
	num := trailingNumber(name)
	var out []string
	for _, m := range builtinMetrics {
		for _, p := range m.Names {
			switch {
			case m.Param == "":
				out = append(out, p)
			case num != "":
				out = append(out, strings.TrimSuffix(p, m.Param)+num)
			}
		}
		out = append(out, m.Examples...)
	}
	var valid []string
	for _, c := range out {
		if Check(c) == nil && !slices.Contains(valid, c) {
			valid = append(valid, c)
		}
	}
	return valid
}

// trailingNumber returns the integer (with its sign) name ends with, ignoring an @embeds
// suffix, or "".
func trailingNumber(name string) string {
	s := strings.TrimSuffix(name, "@embeds")
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	if i == len(s) {
		return ""
	}
	if i > 0 && s[i-1] == '-' {
		i--
	}
	return s[i:]
}

// errK is the reason a K of recall or mAP_K is refused.
var errK = errors.New("K must be a whole number of at least 1, written without sign or leading zeros (e_recall@1, mAP_1000)")

// positiveInt parses a K written the canonical way: digits, no sign, no leading zero, >= 1.
func positiveInt(v string) (int, bool) {
	k, err := strconv.Atoi(v)
	return k, err == nil && k >= 1 && strconv.Itoa(k) == v
}

// cosinePrefix splits the c_ prefix (cosine neighbours) off a name.
func cosinePrefix(name string) (rest string, cosine bool) {
	if r, ok := strings.CutPrefix(name, "c_"); ok {
		return r, true
	}
	return name, false
}
