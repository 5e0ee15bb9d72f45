package spec

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

var lookupEnv = os.LookupEnv

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// nearest returns the candidate closest to given within an edit distance of 2, or "".
// Ties go to the earlier candidate, so callers pass candidates in a stable order. Only the
// first maxSuggestCandidates are considered, so that a message costs little however many
// names a file declares.
func nearest(given string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates[:min(len(candidates), maxSuggestCandidates)] {
		if n, m := utf8.RuneCountInString(c), utf8.RuneCountInString(given); n > m+2 || m > n+2 {
			continue // the distance is at least the difference in length
		}
		if d := levenshtein.Distance(given, c, nil); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// didYouMean returns ` Did you mean "x"?` (with a leading space) or "".
func didYouMean(given string, candidates []string) string {
	if s := nearest(given, candidates); s != "" {
		return fmt.Sprintf(" Did you mean %q?", s)
	}
	return ""
}

func quoteList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

func listOrNone(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	if len(list) > maxListed {
		return fmt.Sprintf("%s and %d more", strings.Join(list[:maxListed], ", "), len(list)-maxListed)
	}
	return strings.Join(list, ", ")
}

// convertVarString converts a -var or environment value to the type of the variable's
// default: numbers and bools are parsed, strings taken as they are, and lists or objects
// parsed as an HCL expression, within the nesting limit and the evaluation budget. A
// variable without a default takes the string.
func convertVarString(s string, def cty.Value, ev *evaluator) (cty.Value, error) {
	if def == cty.NilVal || def.IsNull() {
		return cty.StringVal(s), nil
	}
	ty := def.Type()
	switch {
	case ty == cty.String:
		return cty.StringVal(s), nil
	case ty == cty.Number:
		v, err := cty.ParseNumberVal(strings.TrimSpace(s))
		if err != nil {
			return cty.NilVal, fmt.Errorf("the default is a number, and %q is not one", s)
		}
		return v, nil
	case ty == cty.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return cty.NilVal, fmt.Errorf("the default is a bool, and %q is neither true nor false", s)
		}
		return cty.BoolVal(b), nil
	}
	if tokens, _ := hclsyntax.LexExpression([]byte(s), "<value>", hcl.InitialPos); checkNesting(tokens, false) != nil {
		return cty.NilVal, fmt.Errorf("it nests more than %d levels deep", maxNesting)
	}
	expr, diags := hclsyntax.ParseExpression([]byte(s), "<value>", hcl.InitialPos)
	if diags.HasErrors() {
		return cty.NilVal, fmt.Errorf("the default is a %s, so the value must be written as an HCL %s: %s",
			ty.FriendlyName(), ty.FriendlyName(), diags[0].Summary)
	}
	ev.instrument(expr)
	v, diags := expr.Value(nil)
	if !ev.ok() {
		if ev.stopped {
			return cty.NilVal, fmt.Errorf("decoding was interrupted")
		}
		return cty.NilVal, fmt.Errorf("evaluating it exceeds the evaluation budget of %d values", evalBudget)
	}
	if diags.HasErrors() {
		return cty.NilVal, fmt.Errorf("%s", diags[0].Detail)
	}
	isList := func(t cty.Type) bool { return t.IsTupleType() || t.IsListType() || t.IsSetType() }
	isObj := func(t cty.Type) bool { return t.IsObjectType() || t.IsMapType() }
	if (isList(ty) && !isList(v.Type())) || (isObj(ty) && !isObj(v.Type())) {
		return cty.NilVal, fmt.Errorf("the default is a %s, and the value is a %s", kindOf(ty), kindOf(v.Type()))
	}
	return v, nil
}

// kindOf names a cty type the way experiment files speak of values.
func kindOf(t cty.Type) string {
	switch {
	case t == cty.String:
		return "string"
	case t == cty.Number:
		return "number"
	case t == cty.Bool:
		return "bool"
	case t.IsTupleType() || t.IsListType() || t.IsSetType():
		return "list"
	case t.IsObjectType() || t.IsMapType():
		return "object"
	case t == cty.DynamicPseudoType:
		return "null"
	}
	return t.FriendlyName()
}
