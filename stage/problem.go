package stage

import (
	"errors"
	"fmt"
	"strings"
)

// Problem is one thing wrong with a node's parameters, found when they are decoded into the
// stage's typed config. spec turns each into a diagnostic at the source range of Path, so
// `dmlrun validate` reports it at file:line:col; Run never sees a config with problems.
type Problem struct {
	// Path names the parameter: "embed_dim", "schedule.lr", "loss.w_align", "metrics[1]"
	// (an element of a list), or "" for the block as a whole.
	Path string
	// Summary is a few words ("Value out of range", "Unknown metric").
	Summary string
	// Detail is a full sentence: what was given, what is allowed, how to fix it.
	Detail string
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Summary + ": " + p.Detail
	}
	return p.Path + ": " + p.Summary + ": " + p.Detail
}

// Problems collects the problems of one decode.
type Problems []Problem

// Addf adds a problem at path.
func (ps *Problems) Addf(path, summary, detailFormat string, args ...any) {
	*ps = append(*ps, Problem{Path: path, Summary: summary, Detail: fmt.Sprintf(detailFormat, args...)})
}

// Extend adds other's problems with their paths put under prefix ("loss" makes "w_align"
// "loss.w_align").
func (ps *Problems) Extend(prefix string, other Problems) {
	for _, p := range other {
		p.Path = JoinPath(prefix, p.Path)
		*ps = append(*ps, p)
	}
}

// Err returns nil without problems, else an error listing them (for Run's defence against
// a config that did not pass through validation).
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	msgs := make([]string, len(ps))
	for i, p := range ps {
		msgs[i] = p.String()
	}
	return errors.New(strings.Join(msgs, "; "))
}

// JoinPath joins a parameter path and a member name: JoinPath("schedule", "lr") is
// "schedule.lr"; an element index ("[2]") is appended without a dot.
func JoinPath(prefix, name string) string {
	switch {
	case prefix == "":
		return name
	case name == "":
		return prefix
	case strings.HasPrefix(name, "["):
		return prefix + name
	}
	return prefix + "." + name
}

// OneOf adds an "Unknown <what>" problem at path unless value is one of names. The detail
// lists the names and suggests the nearest one, or the name an alias stands for (aliases map
// other spellings to names: "proxyanchor" -> "oproxy").
func (ps *Problems) OneOf(path, what, value string, names []string, aliases map[string]string) bool {
	for _, n := range names {
		if n == value {
			return true
		}
	}
	ps.Addf(path, "Unknown "+what, "%q is not a %s; the %ss are %s.%s", value, what, what, QuoteList(names), Suggest(value, names, aliases))
	return false
}

// QuoteList renders names as "a", "b" and "c".
func QuoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	switch len(q) {
	case 0:
		return "(none)"
	case 1:
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}

// Suggest returns ` Did you mean "x"?` for the name an alias of value stands for, or the
// name nearest to value by edit distance when it is close enough, else "".
func Suggest(value string, names []string, aliases map[string]string) string {
	low := strings.ToLower(value)
	if to, ok := aliases[low]; ok {
		return fmt.Sprintf(" Did you mean %q?", to)
	}
	best, bestD := "", 0
	for _, n := range names {
		d := editDistance(low, strings.ToLower(n))
		if best == "" || d < bestD {
			best, bestD = n, d
		}
	}
	// Close enough: at most a third of the longer word differs (normalise -> normalize).
	if best != "" && bestD*3 <= max(len(value), len(best)) {
		return fmt.Sprintf(" Did you mean %q?", best)
	}
	return ""
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
