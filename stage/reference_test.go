package stage

import (
	"strings"
	"testing"
)

func TestWriteReference(t *testing.T) {
	r, err := NewRegistry(&Def{Kind: "zz_ref_test", Version: 3, Run: func(*Context) error { return nil }, Doc: "A test stage.", ExpandOver: "from", Params: []Param{
		{Name: "from", Type: RefList, RefKind: "train", Required: true, Doc: "Models."},
		{Name: "mode", Type: String, Default: "a", Enum: []string{"a", "b|c"}, Doc: "Mode."},
		{Name: "schedule", Type: Object, Fields: []Param{{Name: "lr", Type: Float, Default: 1e-5, Doc: "Rate."}}},
		{Name: "loss", Default: "x", Variants: map[string][]Param{"x": {{Name: "w", Type: Float, Default: 0.5}}, "y": nil}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := r.WriteReference(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"### `zz_ref_test` (version 3)\n\nA test stage.\n\nOne node per node referenced by `from`.",
		"| `from` | list of references to `train` | required | Models. |",
		"| `mode` | string | `\"a\"` | Mode. One of: \"a\", \"b\\|c\". |",
		"| `schedule` | object | fields' defaults |  |",
		"| `schedule.lr` | float | `1e-05` | Rate. |",
		"| `loss` | variant block | `x` |  |",
		"`loss \"x\" { ... }`\n\n| argument | type | default | meaning |\n|---|---|---|---|\n| `w` | float | `0.5` |  |",
		"`loss \"y\" { ... }`\n\n(no arguments)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("reference lacks %q; got:\n%s", want, out)
		}
	}
}
