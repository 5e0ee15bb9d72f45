package models

import (
	"fmt"
	"slices"
	"strings"

	"dmlrun/stage"

	"github.com/agext/levenshtein"
)

// Backbone is one trunk a model can be built on, as its family's file declares it: the arch
// token that selects it, the modifier tokens it accepts, one sentence of documentation, the
// ImageNet weights it starts from in the original, and its constructor. builtinBackbones
// (builtin.go) lists them; ParseArch accepts exactly the names and modifiers listed there.
type Backbone struct {
	Name      string   // arch token: "resnet50"
	Modifiers []string // modifier tokens it accepts (see Modifiers), in documentation order
	Doc       string
	// Weights is the file name (without .pth) of the ImageNet weights the original starts
	// it from ("resnet50-19c8e357"); "" for a backbone that always trains from scratch.
	Weights string

	// build constructs the trunk for a parsed arch (Frozen is the only modifier a trunk
	// sees; pooling and normalisation are the Model's) and returns it with its pooled
	// feature width. It must consume the torch CPU generator as the original does.
	build func(a Arch) (trunk, int64, error)
}

// Modifier is one arch token after the backbone name, and what it changes.
type Modifier struct {
	Name string
	Doc  string // a short phrase ("L2-normalised embedding")
	set  func(*Arch)
}

// modifiers are every modifier token; each backbone accepts a subset (Backbone.Modifiers).
var modifiers = []Modifier{
	{"frozen", "BatchNorm in eval mode (running statistics fixed, affine parameters still train)", func(a *Arch) { a.Frozen = true }},
	{"normalize", "L2-normalised embedding", func(a *Arch) { a.Normalize = true }},
	{"double", "global max plus average pooling instead of average pooling", func(a *Arch) { a.Double = true }},
	{"lp2", "plus global LP-pooling with p = 2", func(a *Arch) { a.LP2 = true }},
	{"lp3", "plus global LP-pooling with p = 3", func(a *Arch) { a.LP3 = true }},
}

// Backbones lists the backbones in documentation order.
func Backbones() []Backbone { return slices.Clone(builtinBackbones) }

// Modifiers lists every modifier token.
func Modifiers() []Modifier { return slices.Clone(modifiers) }

func backboneNamed(name string) (Backbone, bool) {
	for _, b := range builtinBackbones {
		if b.Name == name {
			return b, true
		}
	}
	return Backbone{}, false
}

func modifierNamed(name string) (Modifier, bool) {
	for _, m := range modifiers {
		if m.Name == name {
			return m, true
		}
	}
	return Modifier{}, false
}

// Arch is a parsed arch string: a backbone name and its modifiers joined by "_"
// (reference §4), e.g. "resnet50_frozen_normalize".
type Arch struct {
	Name      string // as written, e.g. "resnet50_frozen_normalize"
	Base      string // the backbone: "resnet50", "resnet18", "bninception", "smallcnn"
	Frozen    bool   // BatchNorm always in eval mode (affine params still trainable)
	Normalize bool   // L2-normalise the embedding
	Double    bool   // max pool + average pool (summed) instead of average pool
	LP2, LP3  bool   // bninception only: add global LP-pooling with p = 2 / p = 3
}

// PretrainedDefault says whether the arch is normally ImageNet-pretrained (the ResNets and
// BN-Inception; smallcnn always trains from scratch).
func (a Arch) PretrainedDefault() bool { return a.DefaultWeights() != "" }

// DefaultWeights is the file name (without .pth) of the ImageNet weights the original
// starts the arch's backbone from, or "".
func (a Arch) DefaultWeights() string {
	b, _ := backboneNamed(a.Base)
	return b.Weights
}

// ArchError is ParseArch's error: what is wrong with the arch string, as one sentence that
// says what is accepted (and the nearest valid arch when there is one).
type ArchError struct {
	Arch   string
	Detail string
}

func (e *ArchError) Error() string { return fmt.Sprintf("models: arch %q: %s", e.Arch, e.Detail) }

// ParseArch parses an arch string strictly: its "_"-separated tokens are exactly one
// backbone name (Backbones) and modifiers that backbone accepts, each at most once, in any
// order. The original matched substrings, so a misspelt modifier ("normalise") was silently
// ignored; here every token must be known. The error is an *ArchError.
func ParseArch(name string) (Arch, error) {
	a, detail := parseArch(name)
	if detail != "" {
		return a, &ArchError{Arch: name, Detail: detail}
	}
	return a, nil
}

// CheckArch is ParseArch for validation: the parsed arch and the problem with it (at path
// "", for the caller to put under its parameter's name).
func CheckArch(name string) (Arch, stage.Problems) {
	a, detail := parseArch(name)
	if detail == "" {
		return a, nil
	}
	return a, stage.Problems{{Summary: "Invalid arch", Detail: detail}}
}

func parseArch(name string) (Arch, string) {
	a := Arch{Name: name}
	if name == "" {
		return a, "The arch is empty. " + archSyntax()
	}
	tokens := strings.Split(name, "_")
	var bases []int
	for i, t := range tokens {
		if _, ok := backboneNamed(t); ok {
			bases = append(bases, i)
		}
	}
	switch len(bases) {
	case 0:
		return a, noBackbone(name, tokens)
	case 1:
	default:
		return a, fmt.Sprintf("%q names %d backbones (%s); an arch names one. %s",
			name, len(bases), stage.QuoteList(pick(tokens, bases)), archSyntax())
	}
	b, _ := backboneNamed(tokens[bases[0]])
	a.Base = b.Name
	var bad, fixed []string
	seen := map[string]bool{}
	for i, t := range tokens {
		if i == bases[0] {
			fixed = append(fixed, t)
			continue
		}
		switch {
		case t == "":
			return a, fmt.Sprintf("%q has an empty part: join the backbone and its modifiers with single underscores, as in %q.", name, example(b))
		case seen[t]:
			return a, fmt.Sprintf("%q names the modifier %q twice; write it once.", name, t)
		case slices.Contains(b.Modifiers, t):
			seen[t] = true
			m, _ := modifierNamed(t)
			m.set(&a)
			fixed = append(fixed, t)
		default:
			bad = append(bad, t)
			if n := nearest(t, b.Modifiers); n != "" && !seen[n] {
				seen[n] = true
				fixed = append(fixed, n)
			} else {
				fixed = nil
			}
		}
	}
	if len(bad) == 0 {
		return a, ""
	}
	detail := fmt.Sprintf("%s %s not %s of %s, which accepts %s.", quoteAll(bad), isAre(len(bad)), aModifier(len(bad)), b.Name, stage.QuoteList(b.Modifiers))
	for _, t := range bad {
		if others := takers(t); len(others) > 0 && !slices.Contains(others, b.Name) {
			detail += fmt.Sprintf(" %q is a modifier of %s only.", t, strings.Join(others, ", "))
		}
	}
	if fixed != nil && len(fixed) == len(tokens) {
		detail += fmt.Sprintf(" Did you mean %q?", strings.Join(fixed, "_"))
	}
	return a, detail
}

// noBackbone explains an arch without a backbone token, suggesting the arch with the token
// nearest to a backbone name replaced by it (and its other tokens kept).
func noBackbone(name string, tokens []string) string {
	var names []string
	for _, b := range builtinBackbones {
		names = append(names, b.Name)
	}
	detail := fmt.Sprintf("%q names no backbone. %s", name, archSyntax())
	for i, t := range tokens {
		if _, isMod := modifierNamed(t); isMod {
			continue
		}
		if n := nearest(t, names); n != "" {
			fixed := slices.Clone(tokens)
			fixed[i] = n
			if _, d := parseArch(strings.Join(fixed, "_")); d == "" {
				detail += fmt.Sprintf(" Did you mean %q?", strings.Join(fixed, "_"))
			}
			break
		}
	}
	return detail
}

// archSyntax says what an arch is, from the backbone table.
func archSyntax() string {
	var parts []string
	for _, b := range builtinBackbones {
		parts = append(parts, fmt.Sprintf("%s (modifiers %s)", b.Name, strings.Join(b.Modifiers, ", ")))
	}
	return fmt.Sprintf("An arch is a backbone name followed by modifiers, joined by \"_\" (e.g. %q); the backbones are %s.",
		"resnet50_frozen_normalize", strings.Join(parts, "; "))
}

// ArchDoc documents the arch parameter from the backbone table (the README's stage
// reference shows it).
func ArchDoc() string {
	var bs, ms []string
	for _, b := range builtinBackbones {
		bs = append(bs, fmt.Sprintf("%s (%s)", b.Name, strings.Join(b.Modifiers, ", ")))
	}
	for _, m := range modifiers {
		ms = append(ms, m.Name+": "+m.Doc)
	}
	return fmt.Sprintf("Backbone and its modifiers joined by \"_\" (any order, every part known): %s; %s (original: --arch, which matched substrings).",
		strings.Join(bs, ", "), strings.Join(ms, "; "))
}

// example is the backbone's name with its first two modifiers.
func example(b Backbone) string {
	return strings.Join(append([]string{b.Name}, b.Modifiers[:min(2, len(b.Modifiers))]...), "_")
}

// takers lists the backbones that accept modifier t.
func takers(t string) []string {
	var out []string
	for _, b := range builtinBackbones {
		if slices.Contains(b.Modifiers, t) {
			out = append(out, b.Name)
		}
	}
	return out
}

// nearest returns the name in names nearest to s by edit distance when at most a third of
// the longer word differs (normalise -> normalize), else "".
func nearest(s string, names []string) string {
	best, bestD := "", 0
	for _, n := range names {
		d := levenshtein.Distance(strings.ToLower(s), n, nil)
		if best == "" || d < bestD {
			best, bestD = n, d
		}
	}
	if best != "" && bestD*3 <= max(len(s), len(best)) {
		return best
	}
	return ""
}

func pick(tokens []string, idx []int) []string {
	var out []string
	for _, i := range idx {
		out = append(out, tokens[i])
	}
	return out
}

func quoteAll(ts []string) string { return stage.QuoteList(ts) }

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

func aModifier(n int) string {
	if n == 1 {
		return "a modifier"
	}
	return "modifiers"
}
