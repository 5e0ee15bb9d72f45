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
		Kind: "dataset", Version: 1, Run: notRun, Decode: decodeTestDataset,
		Params: []stage.Param{
			{Name: "kind", Type: stage.String, Required: true, Enum: []string{"cub200", "cars196", "online_products", "synthetic"}, Doc: "which benchmark"},
			{Name: "root", Type: stage.String, Default: "../Datasets", Doc: "folder holding the dataset"},
			{Name: "subset", Type: stage.Int, Default: 0, Doc: "use only the first n classes (0 = all)"},
		},
	}, {
		Kind: "train", Version: 1, Resumable: true, Exclusive: true, Run: notRun, Decode: decodeTestTrain,
		Params: []stage.Param{
			{Name: "dataset", Type: stage.Ref, RefKind: "dataset", Required: true},
			{Name: "arch", Type: stage.String, Default: "resnet50_frozen_normalize",
				Enum:    []string{"resnet50_frozen_normalize", "resnet50_frozen_normalize_double", "resnet18_frozen_normalize"},
				Aliases: map[string]string{"r50": "resnet50_frozen_normalize"}},
			{Name: "embed_dim", Type: stage.Int, Default: 128, Min: new(1.0), Max: new(8192.0)},
			{Name: "lr", Type: stage.Float, Default: 1e-5},
			{Name: "use_float16", Type: stage.Bool, Default: false},
			{Name: "seed", Type: stage.Int, Default: int64(0), Doc: "global seed, usually set through seeds"},
			{Name: "loss", Type: stage.Object, Required: true, Aliases: map[string]string{"proxyanchor": "oproxy"}, Variants: map[string][]stage.Param{
				"oproxy": {
					{Name: "mode", Type: stage.String, Default: "anchor", Enum: []string{"anchor", "nca"}},
					{Name: "lrmulti", Type: stage.Float, Default: 2000},
				},
				"nir": {
					{Name: "w_align", Type: stage.Float, Default: 0.01, Min: new(0.0)},
					{Name: "proxy_lrmulti", Type: stage.Float, Default: 4000},
					{Name: "lrmulti", Type: stage.Float, Default: 50},
					{Name: "cblocks", Type: stage.Int, Default: 5},
				},
			}},
			{Name: "schedule", Type: stage.Object, Fields: []stage.Param{
				{Name: "epochs", Type: stage.Int, Default: 150, Min: new(0.0)},
				{Name: "batch_size", Type: stage.Int, Default: 112, Min: new(1.0)},
				{Name: "lr", Type: stage.Float, Default: 1e-5, Above: new(0.0), Doc: "a finite positive learning rate"},
				{Name: "tau", Type: stage.IntList, Default: []int{10000}},
				{Name: "gamma", Type: stage.Float, Default: 0.3, Above: new(0.0), Max: new(1.0)},
				{Name: "warmup", Type: stage.Int, Default: 0},
			}},
		},
	}, {
		Kind: "evaluate", Version: 1, ExpandOver: "models", Run: notRun, Decode: decodeTestEvaluate,
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

// The test stages' Decode functions check rules no schema can say, the way real stages'
// typed configs do, so that spec's mapping of problem paths to source ranges is tested on
// files: each reports at a path, with a sentence.

func decodeTestDataset(p stage.Params) (any, stage.Problems) {
	var probs stage.Problems
	if n := p.Int("subset"); n == 1 {
		probs.Addf("subset", "Subset too small", "A subset of one class cannot be split into train and test classes; use 0 (all) or at least 2.")
	}
	return p, probs
}

func decodeTestTrain(p stage.Params) (any, stage.Problems) {
	var probs stage.Problems
	if s := p.Int("seed"); s < 0 {
		probs.Addf("seed", "Negative seed", "Seeds are at least 0; got %d.", s)
	}
	if sched, ok := p["schedule"].(map[string]any); ok {
		if w, e := sched["warmup"].(int64), sched["epochs"].(int64); w > 0 && w >= e {
			probs.Addf("schedule.warmup", "Warmup too long", "schedule.warmup (%d) must be less than schedule.epochs (%d).", w, e)
		}
		if tau, _ := sched["tau"].([]int64); len(tau) > 1 {
			for i := 1; i < len(tau); i++ {
				if tau[i] <= tau[i-1] {
					probs.Addf(fmt.Sprintf("schedule.tau[%d]", i), "Milestones out of order", "schedule.tau must increase; %d follows %d.", tau[i], tau[i-1])
				}
			}
		}
	}
	if loss := p.Object("loss"); loss["kind"] == "nir" && loss.Float("w_align") > 1 {
		probs.Addf("loss.w_align", "Alignment weight too large", "loss.w_align is at most 1; got %v.", loss.Float("w_align"))
	}
	return p, probs
}

func decodeTestEvaluate(p stage.Params) (any, stage.Problems) {
	var probs stage.Problems
	known := []string{"e_recall@1", "e_recall@2", "e_recall@4", "e_recall@10", "nmi", "f1", "mAP_1000"}
	for i, m := range p.Strings("metrics") {
		probs.OneOf(fmt.Sprintf("metrics[%d]", i), "metric", m, known, nil)
	}
	return p, probs
}
