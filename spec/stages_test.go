package spec

import (
	"fmt"

	"dmlrun/stage"
)

// testRegistry holds test-only stage definitions with schemas shaped like the real stages
// (stages/load, stages/train, stages/evaluate, stages/report), so that spec is tested
// without them and without the global registry.
var testRegistry = mustRegistry(testDefs()...)

func mustRegistry(defs ...*stage.Def) *stage.Registry {
	r, err := stage.NewRegistry(defs...)
	if err != nil {
		panic(err) // a test definition is malformed: every test would fail anyway
	}
	return r
}

// notRun is the Run of test stages: spec never runs a stage.
func notRun(ctx *stage.Context) error {
	return fmt.Errorf("test stage %s: spec tests do not run stages", ctx.Addr)
}

func testDefs() []*stage.Def {
	return []*stage.Def{{
		Kind: "dataset", Version: 1, Run: notRun,
		Params: []stage.Param{
			{Name: "kind", Type: stage.String, Required: true, Enum: []string{"cub200", "cars196", "online_products", "synthetic"}, Doc: "which benchmark"},
			{Name: "root", Type: stage.String, Default: "../Datasets", Doc: "folder holding the dataset"},
			{Name: "subset", Type: stage.Int, Default: 0, Doc: "use only the first n classes (0 = all)"},
		},
	}, {
		Kind: "train", Version: 1, Resumable: true, Exclusive: true, Run: notRun,
		Params: []stage.Param{
			{Name: "dataset", Type: stage.Ref, RefKind: "dataset", Required: true},
			{Name: "arch", Type: stage.String, Default: "resnet50_frozen_normalize",
				Enum: []string{"resnet50_frozen_normalize", "resnet50_frozen_normalize_double", "resnet18_frozen_normalize"}},
			{Name: "embed_dim", Type: stage.Int, Default: 128, Min: new(1.0)},
			{Name: "lr", Type: stage.Float, Default: 1e-5},
			{Name: "use_float16", Type: stage.Bool, Default: false},
			{Name: "seed", Type: stage.Int, Default: int64(0), Doc: "global seed, usually set through seeds"},
			{Name: "loss", Type: stage.Object, Required: true, Variants: map[string][]stage.Param{
				"oproxy": {
					{Name: "mode", Type: stage.String, Default: "anchor", Enum: []string{"anchor", "nca"}},
					{Name: "lrmulti", Type: stage.Float, Default: 2000},
				},
				"nir": {
					{Name: "w_align", Type: stage.Float, Default: 0.01},
					{Name: "proxy_lrmulti", Type: stage.Float, Default: 4000},
					{Name: "lrmulti", Type: stage.Float, Default: 50},
					{Name: "cblocks", Type: stage.Int, Default: 5},
				},
			}},
			{Name: "schedule", Type: stage.Object, Fields: []stage.Param{
				{Name: "epochs", Type: stage.Int, Default: 150},
				{Name: "batch_size", Type: stage.Int, Default: 112, Min: new(1.0)},
				{Name: "lr", Type: stage.Float, Default: 1e-5},
				{Name: "tau", Type: stage.IntList, Default: []int{10000}},
				{Name: "gamma", Type: stage.Float, Default: 0.3},
				{Name: "warmup", Type: stage.Int, Default: 0},
			}},
		},
	}, {
		Kind: "evaluate", Version: 1, ExpandOver: "models", Run: notRun,
		Params: []stage.Param{
			{Name: "models", Type: stage.RefList, RefKind: "train", Required: true},
			{Name: "metrics", Type: stage.StringList, Default: []string{"e_recall@1", "e_recall@2", "e_recall@4", "e_recall@10", "nmi", "f1", "mAP_1000"}},
		},
	}, {
		Kind: "report", Version: 1, Run: notRun,
		Params: []stage.Param{
			{Name: "from", Type: stage.Ref, RefKind: "evaluate", Required: true},
			{Name: "formats", Type: stage.StringList, Default: []string{"table"}, Enum: []string{"table", "markdown", "csv", "json"}},
		},
	}}
}
