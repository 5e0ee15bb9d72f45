package criteria

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"dmlrun/stage"
	"dmlrun/stages/train/miners"
	"dmlrun/torch"
	"dmlrun/torch/optim"
)

// TestVariantsPinned: every loss block's parameters keep the names, order, types, defaults,
// enums and docs of the hand-written schemas the tagged configs replaced.
// testdata/variants.golden.json was written from those schemas (commit b68469a) and is never
// regenerated: a difference here changes canonical parameters, so content keys.
func TestVariantsPinned(t *testing.T) {
	type p struct {
		Name    string   `json:"name"`
		Type    string   `json:"type"`
		Default any      `json:"default"`
		Enum    []string `json:"enum,omitempty"`
		Doc     string   `json:"doc"`
	}
	v := Variants()
	out := map[string][]p{}
	for k, fs := range v {
		out[k] = []p{}
		for _, f := range fs {
			out[k] = append(out[k], p{f.Name, f.Type.String(), f.Default, f.Enum, f.Doc})
		}
	}
	got, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/variants.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append(got, '\n'), want) {
		t.Fatalf("loss schemas differ from testdata/variants.golden.json:\n%s", got)
	}
}

// TestBuiltinTable: every loss is documented, has aliases that are not names, and the
// declared properties match what the train loop relied on before the table
// (NeedsMiner: margin, triplet, contrastive, npair; s2sd through its sub-criteria).
func TestBuiltinTable(t *testing.T) {
	tab := Builtin()
	if want := []string{"arcface", "contrastive", "margin", "multisimilarity", "nir", "npair", "oproxy", "s2sd", "softmax", "triplet"}; !slices.Equal(tab.Names(), want) {
		t.Fatalf("names %v", tab.Names())
	}
	var mining []string
	for _, n := range tab.Names() {
		l, _ := tab.Lookup(n)
		if l.Doc == "" {
			t.Errorf("%s has no Doc", n)
		}
		if l.NeedsMiner {
			mining = append(mining, n)
		}
	}
	if want := []string{"contrastive", "margin", "npair", "triplet"}; !slices.Equal(mining, want) {
		t.Errorf("losses that mine: %v, want %v", mining, want)
	}
	if want := []string{"multisimilarity", "margin", "triplet", "contrastive", "softmax", "arcface", "oproxy", "npair"}; !slices.Equal(tab.SubCriteria(), want) {
		t.Errorf("sub-criteria %v, want %v", tab.SubCriteria(), want)
	}
	for alias, name := range map[string]string{"proxyanchor": "oproxy", "proxy_anchor": "oproxy", "pa": "oproxy"} {
		if tab.Aliases()[alias] != name {
			t.Errorf("alias %s -> %q, want %s", alias, tab.Aliases()[alias], name)
		}
	}
	vs := tab.VariantSet()
	if len(vs.Kinds) != len(tab.Names()) || vs.Aliases["pa"] != "oproxy" {
		t.Errorf("VariantSet %v", vs)
	}
}

// TestDecode: the loss block's problems are found when it is decoded, with paths relative
// to the block, and the kind's aliases turn into "did you mean".
func TestDecode(t *testing.T) {
	cases := []struct {
		name  string
		kind  string
		p     stage.Params
		block TrainBlock
		path  string
		want  string
	}{
		{"alias", "proxyanchor", nil, TrainBlock{}, "", `"proxyanchor" is not a loss kind; the loss kinds are "arcface", "contrastive", "margin", "multisimilarity", "nir", "npair", "oproxy", "s2sd", "softmax" and "triplet". Did you mean "oproxy"?`},
		{"typo", "multisimilarty", nil, TrainBlock{}, "", `Did you mean "multisimilarity"?`},
		{"enum", "oproxy", stage.Params{"mode": "anchr"}, TrainBlock{}, "mode", `Did you mean "anchor"?`},
		{"lr multiplier", "oproxy", stage.Params{"lrmulti": -5.0}, TrainBlock{}, "lrmulti", `"lrmulti" must be greater than 0; got -5`},
		{"nir flow depth", "nir", stage.Params{"nf_fc_depth": int64(1)}, TrainBlock{}, "nf_fc_depth", `must be at least 2`},
		{"nir embed dim", "nir", nil, TrainBlock{EmbedDim: 1}, "", `needs embed_dim >= 2`},
		{"softmax temperature", "softmax", stage.Params{"temperature": 0.0}, TrainBlock{}, "temperature", `must be greater than 0`},
		{"multisimilarity weight", "multisimilarity", stage.Params{"neg_weight": 0.0}, TrainBlock{}, "neg_weight", `must not be 0`},
		{"multisimilarity dim", "multisimilarity", stage.Params{"dim": int64(2)}, TrainBlock{}, "dim", `must be at most 1`},
		{"s2sd sub-criterion", "s2sd", stage.Params{"source": "nir"}, TrainBlock{}, "source", `"nir" is not a sub-criterion name; the sub-criterion names are "multisimilarity"`},
		{"s2sd sub alias", "s2sd", stage.Params{"target": "proxyanchor"}, TrainBlock{}, "target", `Did you mean "oproxy"?`},
		{"s2sd no branch", "s2sd", stage.Params{"target_dims": []int64{}}, TrainBlock{}, "target_dims", `at least one target branch`},
		{"s2sd branch width", "s2sd", stage.Params{"target_dims": []int64{8, 0}}, TrainBlock{}, "target_dims[1]", `must be at least 1`},
		{"npair miner", "npair", nil, TrainBlock{BatchMining: "distance"}, "", `works only with batch_mining = "npair"`},
		{"s2sd npair target", "s2sd", stage.Params{"target": "npair"}, TrainBlock{BatchMining: "semihard"}, "target", `works only with batch_mining = "npair"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, probs := Builtin().Decode(stage.Variant{Kind: c.kind, Params: c.p}, c.block)
			if len(probs) != 1 || probs[0].Path != c.path || !strings.Contains(probs[0].Detail, c.want) {
				t.Fatalf("problems %v, want one at %q containing %q", probs, c.path, c.want)
			}
		})
	}
	// A valid block decodes to its typed parameters and says whether it needs a miner.
	for kind, mines := range map[string]bool{"oproxy": false, "margin": true, "s2sd": false} {
		c, probs := Builtin().Decode(stage.Variant{Kind: kind, Params: defaults(kind)}, TrainBlock{EmbedDim: 8, BatchMining: "distance"})
		if len(probs) > 0 || c.Kind != kind || c.Value() == nil || c.NeedsMiner() != mines || c.Params.Has("kind") {
			t.Errorf("%s: %+v %v", kind, c, probs)
		}
	}
	c, _ := Builtin().Decode(stage.Variant{Kind: "s2sd", Params: stage.Params{"target": "margin"}}, TrainBlock{})
	if !c.NeedsMiner() {
		t.Error("s2sd with a margin target needs a miner")
	}
}

// scaled is a loss declared in a test, the way a new loss's file declares one: it shows that
// a loss is one Define value, and that a table built with it knows it (see also
// stages/train's TestTrainWithATestLoss, which trains with one).
var scaled = Define(Spec[scaledParams]{
	Name:     "scaled_norm",
	Aliases:  []string{"scalednorm"},
	Doc:      "Scale times the mean squared embedding norm (a test loss).",
	Defaults: scaledParams{Scale: 2},
	New: func(p *scaledParams, env Env) (Criterion, error) {
		w := torch.Full([]int64{1}, p.Scale, torch.Float32, torch.CPUDevice).To(env.Device).SetRequiresGrad(true)
		return &scaledNorm{w: w}, nil
	},
})

type scaledParams struct {
	Scale float64 `param:"scale" above:"0" doc:"The scale."`
}

type scaledNorm struct{ w *torch.Tensor }

func (s *scaledNorm) Loss(b Batch) *torch.Tensor {
	return b.Embeds.PowScalar(2).Sum().DivScalar(float64(b.Embeds.Size(0))).Mul(s.w.Sum())
}
func (s *scaledNorm) Groups(lr float64) []optim.Group {
	return []optim.Group{{Name: "scaled_norm.w", Params: []*torch.Tensor{s.w}, LR: lr}}
}
func (s *scaledNorm) Named() ([]string, []*torch.Tensor) { return []string{"w"}, []*torch.Tensor{s.w} }
func (s *scaledNorm) Close()                             { s.w.Close() }

func TestTableWithATestLoss(t *testing.T) {
	tab, err := NewTable(append(builtinLosses(), scaled)...)
	if err != nil {
		t.Fatal(err)
	}
	if _, probs := tab.Decode(stage.Variant{Kind: "scalednorm"}, TrainBlock{}); len(probs) != 1 || !strings.Contains(probs[0].Detail, `Did you mean "scaled_norm"?`) {
		t.Fatalf("alias: %v", probs)
	}
	census := torch.StartCensus()
	defer census.Stop()
	func() {
		c, err := tab.New("scaled_norm", stage.Params{"scale": 3.0}, 4, 2, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer Close(c)
		s := torch.NewScope()
		defer s.Close()
		x := torch.Ones([]int64{2, 4}, torch.Float32, torch.CPUDevice)
		if got := c.Loss(Batch{Embeds: x}).Item(); got != 12 {
			t.Fatalf("loss %v, want 3 * 4", got)
		}
	}()
	if n := census.Live(); n != 0 {
		t.Errorf("%d tensors left open", n)
	}
	if _, ok := Builtin().Lookup("scaled_norm"); ok {
		t.Fatal("a test table leaked into the built-in one")
	}
	// Sub-criterion tables: a SubCriterion test loss joins s2sd's enum of that table only.
	sub := scaled
	sub.SubCriterion = true
	tab2, err := NewTable(append(builtinLosses(), sub)...)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := tab2.Lookup("s2sd")
	for _, p := range l.Params {
		if p.Name == "source" && !slices.Contains(p.Enum, "scaled_norm") {
			t.Errorf("s2sd source enum %v lacks the test sub-criterion", p.Enum)
		}
	}
}

func TestNewTableErrors(t *testing.T) {
	noNew := Define(Spec[struct{}]{Name: "x"})
	badSub := Define(Spec[struct {
		N int `param:"n"`
	}]{Name: "y", SubCriteria: []string{"n"}, New: func(*struct {
		N int `param:"n"`
	}, Env) (Criterion, error) {
		return nil, nil
	}})
	aliasName := oproxyLoss
	aliasName.Name, aliasName.Aliases = "oproxy2", []string{"nir"}
	aliasTwice := oproxyLoss
	aliasTwice.Name = "oproxy2"
	cases := []struct {
		name   string
		losses []Loss
		want   string
	}{
		{"duplicate", []Loss{oproxyLoss, oproxyLoss}, "declared twice"},
		{"no New", []Loss{noNew}, "New is nil"},
		{"sub-criteria not a string", []Loss{badSub}, "not one of its string parameters"},
		{"alias is a name", []Loss{nirLoss, aliasName}, "is a loss's name"},
		{"alias twice", []Loss{oproxyLoss, aliasTwice}, "given to"},
		{"s2sd default not a sub-criterion", []Loss{s2sdLoss}, "is not a sub-criterion of this table"},
		{"not defined", []Loss{{Name: "z"}}, "not made by Define"},
	}
	for _, c := range cases {
		if _, err := NewTable(c.losses...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

// TestSubNeedsMiner: s2sd with a mining sub-criterion and no miner is an error at New.
func TestSubNeedsMiner(t *testing.T) {
	p := defaults("s2sd")
	p["source"] = "margin"
	if _, err := New("s2sd", p, 6, 4, nil, FeatureDim(5)); err == nil || !strings.Contains(err.Error(), "needs a batchminer") {
		t.Fatalf("got %v", err)
	}
	m, _ := miners.New("distance", nil, miners.NewNumpyRandom(0))
	p["target_dims"] = []int64{4}
	c, err := New("s2sd", p, 6, 4, m, FeatureDim(5))
	if err != nil {
		t.Fatal(err)
	}
	Close(c)
}
