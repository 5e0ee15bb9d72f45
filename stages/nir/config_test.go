package nir

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"dmlrun/stage"
)

// TestParamSchemaPinned: the `loss "nir"` schema declared by LossParams' tags has the names,
// types, defaults and order of the hand-written schema it replaced, so the canonical
// parameters (and content keys) of every nir block are unchanged.
func TestParamSchemaPinned(t *testing.T) {
	type want struct {
		name string
		typ  stage.Type
		def  any
	}
	wants := []want{
		{"w_align", stage.Float, 0.01}, {"proxy_lrmulti", stage.Float, 4000.0}, {"lrmulti", stage.Float, 50.0},
		{"noise", stage.Float, 0.0}, {"nf_cond_mode", stage.String, "dense"}, {"nf_fc_depth", stage.Int, int64(8)},
		{"nf_fc_width", stage.Int, int64(128)}, {"nf_cblocks", stage.Int, int64(5)}, {"nf_clamp_alpha", stage.Float, 2.0},
		{"nf_fc_init", stage.String, "none"}, {"objective", stage.String, "exp_nll"},
		{"oproxy_pos_alpha", stage.Float, 32.0}, {"oproxy_neg_alpha", stage.Float, 32.0},
		{"oproxy_pos_delta", stage.Float, 0.1}, {"oproxy_neg_delta", stage.Float, -0.1},
	}
	for _, n := range DeadFlags {
		wants = append(wants, want{n, stage.Float, nil})
	}
	ps := ParamSchema()
	if len(ps) != len(wants) {
		t.Fatalf("%d parameters, want %d", len(ps), len(wants))
	}
	for i, w := range wants {
		p := ps[i]
		if p.Name != w.name || p.Type != w.typ || !reflect.DeepEqual(p.Default, w.def) || p.Doc == "" {
			t.Errorf("parameter %d: %s %s default %#v (doc %q), want %s %s default %#v", i, p.Name, p.Type, p.Default, p.Doc, w.name, w.typ, w.def)
		}
	}
}

// TestLossParamsEnums: the enums in LossParams' tags are CondModes and the two objectives.
func TestLossParamsEnums(t *testing.T) {
	for _, p := range ParamSchema() {
		switch p.Name {
		case "nf_cond_mode":
			if !slices.Equal(p.Enum, CondModes) {
				t.Errorf("nf_cond_mode enum %v, CondModes %v", p.Enum, CondModes)
			}
		case "objective":
			if !slices.Equal(p.Enum, []string{ObjectiveExpNLL, ObjectiveNLL}) {
				t.Errorf("objective enum %v", p.Enum)
			}
		}
	}
}

// TestLossParamsProblems: values the criterion cannot be built with are problems at their
// parameter, found when the block is decoded (validate time), not when training starts.
func TestLossParamsProblems(t *testing.T) {
	cases := []struct {
		name, param string
		v           any
		want        string
	}{
		{"depth 1", "nf_fc_depth", int64(1), `"nf_fc_depth" must be at least 2; got 1`},
		{"width 0", "nf_fc_width", int64(0), `"nf_fc_width" must be at least 1; got 0`},
		{"no blocks", "nf_cblocks", int64(0), `"nf_cblocks" must be at least 1; got 0`},
		{"clamp 0", "nf_clamp_alpha", 0.0, `"nf_clamp_alpha" must be greater than 0; got 0`},
		{"negative flow lr", "lrmulti", -1.0, `"lrmulti" must be greater than 0; got -1`},
		{"zero proxy lr", "proxy_lrmulti", 0.0, `"proxy_lrmulti" must be greater than 0; got 0`},
		{"negative noise", "noise", -0.1, `"noise" must be at least 0; got -0.1`},
		{"cond mode", "nf_cond_mode", "dens", `Did you mean "dense"?`},
		{"objective", "objective", "nl", `Did you mean "nll"?`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lp := DefaultLossParams()
			probs := stage.DecodeParams(stage.Params{c.param: c.v}, &lp)
			if len(probs) != 1 || probs[0].Path != c.param || !strings.Contains(probs[0].Detail, c.want) {
				t.Fatalf("problems %v, want one at %s containing %q", probs, c.param, c.want)
			}
			if _, err := ConfigFromParams(8, 4, stage.Params{c.param: c.v}); err == nil || !strings.Contains(err.Error(), c.param) {
				t.Fatalf("ConfigFromParams: %v, want an error naming %s", err, c.param)
			}
		})
	}
}
