package spec

import (
	"fmt"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// mergeFunc is merge(a, b, ...): an object with the members of every argument, a later
// argument's member replacing an earlier one's of the same name. Where both members are
// objects they are merged the same way, member by member, so that
//
//	merge({ lr = 1e-5, opt = { beta1 = 0.9, beta2 = 0.999 } }, { opt = { beta2 = 0.99 } })
//
// is { lr = 1e-5, opt = { beta1 = 0.9, beta2 = 0.99 } }; any other member (a number, a
// list, an object over a number or a number over an object) replaces the earlier one whole:
// lists are not concatenated. Every argument must be an object (or a map); null is an
// error, not an empty object. With no arguments the result is {}.
//
// Its cost in the evaluation budget is the size of its arguments, which it walks, and of its
// result (see evaluator.budgeted), and it refuses values nested deeper than maxNesting.
var mergeFunc = function.New(&function.Spec{
	Description: "Merges objects; later arguments win, and nested objects are merged member by member.",
	VarParam:    &function.Parameter{Name: "objects", Type: cty.DynamicPseudoType},
	Type: func(args []cty.Value) (cty.Type, error) {
		for i, a := range args {
			if a.IsKnown() && !a.IsNull() && !isObjectLike(a.Type()) {
				return cty.NilType, function.NewArgErrorf(i, "merge takes objects, such as { lr = 1e-3 }, and argument %d is a %s", i+1, kindOf(a.Type()))
			}
		}
		// The result's type depends on the values; cty checks that Impl's result conforms to
		// this, which any type does.
		return cty.DynamicPseudoType, nil
	},
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		out := map[string]cty.Value{}
		for i, a := range args {
			if err := mergeInto(out, a, 1); err != nil {
				return cty.DynamicVal, function.NewArgErrorf(i, "%s", err)
			}
		}
		return cty.ObjectVal(out), nil
	},
})

func isObjectLike(t cty.Type) bool { return t.IsObjectType() || t.IsMapType() }

// mergeInto adds the members of obj to out (see mergeFunc); depth is obj's nesting level.
func mergeInto(out map[string]cty.Value, obj cty.Value, depth int) error {
	if depth > maxNesting {
		return fmt.Errorf("the objects nest more than %d levels deep", maxNesting)
	}
	for it := obj.ElementIterator(); it.Next(); {
		k, v := it.Element()
		name := k.AsString()
		prev, ok := out[name]
		if ok && mergeable(prev) && mergeable(v) {
			inner := map[string]cty.Value{}
			if err := mergeInto(inner, prev, depth+1); err != nil {
				return err
			}
			if err := mergeInto(inner, v, depth+1); err != nil {
				return err
			}
			v = cty.ObjectVal(inner)
		}
		out[name] = v
	}
	return nil
}

// mergeable reports whether v is an object whose members merge (not null, known).
func mergeable(v cty.Value) bool {
	return v.IsKnown() && !v.IsNull() && isObjectLike(v.Type())
}
