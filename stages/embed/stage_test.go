package embed

import (
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dmlrun/spec"
	"dmlrun/stage"
	"dmlrun/stages/load"
	"dmlrun/stages/train"
	"dmlrun/stages/train/criteria"
	"dmlrun/stages/train/traintest"
	"dmlrun/torch"
)

// TestParamsPinned: the typed config declares exactly the parameters of the hand-written
// schema it replaced, so no embed node's key changes.
func TestParamsPinned(t *testing.T) {
	traintest.CheckParamsPinned(t, "testdata/params.golden.json", "embed", Def().Params)
	if d := Def(); d.Kind != "embed" || d.ExpandOver != "models" || !d.Exclusive || d.Version != Version {
		t.Fatal("embed stage not defined with ExpandOver models, exclusive")
	}
}

// trainTiny trains a 2-epoch smallcnn_normalize model (embed_dim 16) with the given loss on
// a tiny dataset and returns the model's and the dataset's directories.
func trainTiny(t *testing.T, kind string, over map[string]any) (model, data string) {
	t.Helper()
	return trainTinyWith(t, kind, over, map[string]any{"epochs": int64(2)})
}

// trainTinyWith is trainTiny with top-level or schedule parameters set ("epochs",
// "warmup" go into the schedule).
func trainTinyWith(t *testing.T, kind string, over, set map[string]any) (model, data string) {
	t.Helper()
	data = t.TempDir()
	traintest.WriteTinyDataset(t, data, 6, 8)
	p := traintest.Defaults(train.Def().Params)
	p["arch"], p["embed_dim"] = "smallcnn_normalize", int64(16)
	loss := map[string]any(traintest.Defaults(criteria.Variants()[kind]))
	loss["kind"] = kind
	for k, v := range over {
		loss[k] = v
	}
	p["loss"] = loss
	s := p.Object("schedule")
	s["epochs"], s["batch_size"], s["lr"] = int64(2), int64(16), 1e-3
	for k, v := range set {
		if k == "epochs" || k == "warmup" {
			s[k] = v
		} else {
			p[k] = v
		}
	}
	model = t.TempDir()
	ctx := &stage.Context{Context: context.Background(), Addr: "train.test[seed=0]", Key: "k", Params: p,
		Inputs: []stage.Input{{Param: "dataset", Addr: "dataset.tiny", Block: "tiny", Stage: "dataset", Key: "dskey", Dir: data}},
		OutDir: model, Log: io.Discard, Progress: traintest.Progress{}, Device: "cpu", Threads: 1}
	if err := train.Def().Run(ctx); err != nil {
		t.Fatal(err)
	}
	return model, data
}

// TestEmbed embeds the test split of the tiny dataset with models trained with oproxy and
// nir, through the stage's Run, and reads the artifact back through Read.
func TestEmbed(t *testing.T) {
	for kind, over := range map[string]map[string]any{
		"oproxy": nil,
		"nir":    {"lrmulti": 0.1, "proxy_lrmulti": 100.0, "nf_fc_width": int64(32), "nf_fc_depth": int64(3), "nf_cblocks": int64(2)},
	} {
		t.Run(kind, func(t *testing.T) {
			model, data := trainTiny(t, kind, over)
			out := t.TempDir()
			ctx := &stage.Context{Context: context.Background(), Addr: "embed.e[train.test[seed=0]]",
				Params: stage.Params{"split": "test", "batch_size": int64(7)},
				Inputs: []stage.Input{
					{Param: "models", Addr: "train.test[seed=0]", Block: "test", Stage: "train", Key: "k", Dir: model},
					{Param: "dataset", Addr: "dataset.tiny", Block: "tiny", Stage: "dataset", Key: "dskey", Dir: data}},
				OutDir: out, Log: io.Discard, Progress: traintest.Progress{}, Device: "cpu", Threads: 1}
			if err := Def().Run(ctx); err != nil {
				t.Fatal(err)
			}
			e, info, err := Read(out)
			if err != nil {
				t.Fatal(err)
			}
			if e.Rows != 48 || e.Dim != 16 || len(e.Labels) != 48 {
				t.Fatalf("embeddings %d x %d, %d labels", e.Rows, e.Dim, len(e.Labels))
			}
			for i := range e.Rows {
				var n float64
				for _, v := range e.Data[i*e.Dim : (i+1)*e.Dim] {
					n += float64(v) * float64(v)
				}
				if math.Abs(math.Sqrt(n)-1) > 1e-5 {
					t.Fatalf("normalize arch: row %d has norm %v", i, math.Sqrt(n))
				}
			}
			want := Info{Split: "test", N: 48, Dim: 16, ModelBlock: "test", ModelAddr: "train.test[seed=0]", ModelKey: "k",
				Seed: 0, TrainClasses: 6, Arch: "smallcnn_normalize", Loss: kind,
				TrainEpochs: 2, TrainSteps: 6, TrainSkipped: 0, SelectedEpoch: -1}
			if info != want {
				t.Fatalf("embed.json %+v, want %+v", info, want)
			}
			a, _ := os.ReadFile(filepath.Join(model, train.LogFile))
			b, err := os.ReadFile(filepath.Join(out, TrainLogFile))
			if err != nil || string(a) != string(b) {
				t.Fatalf("train_log.csv not copied (%v)", err)
			}
			// A dataset other than the one trained on is refused.
			ctx.Inputs[1].Key = "other"
			ctx.OutDir = t.TempDir()
			if err := Def().Run(ctx); err == nil || !strings.Contains(err.Error(), "was trained on dataset.tiny") {
				t.Fatalf("want dataset mismatch error, got %v", err)
			}
		})
	}
}

// embedCtx is the embed context for the tiny model in model and the dataset in data.
func embedCtx(t *testing.T, model, data string) *stage.Context {
	return &stage.Context{Context: context.Background(), Addr: "embed.e[train.test[seed=0]]",
		Params: stage.Params{"split": "test", "batch_size": int64(7)},
		Inputs: []stage.Input{
			{Param: "models", Addr: "train.test[seed=0]", Block: "test", Stage: "train", Key: "k", Dir: model},
			{Param: "dataset", Addr: "dataset.tiny", Block: "tiny", Stage: "dataset", Key: "dskey", Dir: data}},
		OutDir: t.TempDir(), Log: io.Discard, Progress: traintest.Progress{}, Device: "cpu", Threads: 1}
}

// TestNonFiniteEmbeddingsFail: a model whose weights are NaN embedded every image as NaN,
// and evaluate then scored them (e_recall@1 0.2, nmi 0) as a success. The node fails
// instead, naming how many images and the first, and writes no embeddings.
func TestNonFiniteEmbeddingsFail(t *testing.T) {
	model, data := trainTiny(t, "oproxy", nil)
	path := filepath.Join(model, train.CheckpointFile)
	sd, _, meta, err := torch.LoadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var ts []*torch.Tensor
	for n, v := range sd {
		if n == "model.last_linear.weight" {
			v = v.MulScalar(math.NaN())
		}
		names, ts = append(names, n), append(ts, v)
	}
	if err := torch.SaveSafetensors(path, names, ts, meta); err != nil {
		t.Fatal(err)
	}
	ctx := embedCtx(t, model, data)
	err = Def().Run(ctx)
	if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), `embeds 48 of 48 images of split "test" as NaN or Inf (the first is image 0)`) {
		t.Fatalf("want a non-finite embeddings error, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(ctx.OutDir, EmbeddingsFile)); !os.IsNotExist(err) {
		t.Fatalf("embeddings written despite the error (%v)", err)
	}
}

// TestEmbedUntrained: a train block with epochs = 0 stores the initialised network; it
// embeds like any other, and embed.json says it never trained.
func TestEmbedUntrained(t *testing.T) {
	model, data := trainTinyWith(t, "oproxy", nil, map[string]any{"epochs": int64(0)})
	ctx := embedCtx(t, model, data)
	if err := Def().Run(ctx); err != nil {
		t.Fatal(err)
	}
	_, info, err := Read(ctx.OutDir)
	if err != nil || info.TrainEpochs != 0 || info.TrainSteps != 0 || info.SelectedEpoch != -1 || info.N != 48 {
		t.Fatalf("embed.json %+v (%v)", info, err)
	}
}

// TestEmbedSelected: a train block that selects (here on test, with the opt-in) stores the
// selected epoch's weights; embed embeds them and copies the selection into embed.json, where
// "test:" labels a selection made on the test split.
func TestEmbedSelected(t *testing.T) {
	model, data := trainTinyWith(t, "oproxy", nil, map[string]any{"epochs": int64(3), "eval_every": int64(1),
		"select": map[string]any{"metric": "e_recall@1", "split": "test", "allow_test": true}})
	mi, err := train.ReadModelInfo(model)
	if err != nil || mi.SelectedEpoch < 0 || mi.Selection != "test:e_recall@1" {
		t.Fatalf("model.json %+v (%v)", mi, err)
	}
	ctx := embedCtx(t, model, data)
	if err := Def().Run(ctx); err != nil {
		t.Fatal(err)
	}
	_, info, err := Read(ctx.OutDir)
	if err != nil || info.SelectedEpoch != mi.SelectedEpoch || info.Selection != "test:e_recall@1" || info.TrainEpochs != 3 || info.TrainSteps != 9 {
		t.Fatalf("embed.json %+v (%v), model.json %+v", info, err, mi)
	}
}

// TestBatchSizeBelowOne: embed { batch_size = 0 } looped forever (the embedding loop never
// advanced) and validate called the file valid. Now validation rejects it at the value, and
// the stage itself refuses it before any work.
func TestBatchSizeBelowOne(t *testing.T) {
	t.Run("validate", func(t *testing.T) {
		stages, err := stage.NewRegistry(load.Def(), train.Def(), Def())
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ name, src string }{
			{"x.hcl", `dataset "d" {
  kind = "emoji"
  root = "/nonexistent"
}

train "t" {
  dataset = dataset.d
}

embed "e" {
  models     = [train.t]
  dataset    = dataset.d
  batch_size = 0
}
`},
			{"x.yaml", `dataset:
  d: { kind: emoji, root: /nonexistent }
train:
  t: { dataset: dataset.d }
embed:
  e:
    models: [train.t]
    dataset: dataset.d
    batch_size: 0
`},
		} {
			_, diags := spec.Parse(c.name, []byte(c.src), spec.LoadOptions{Registry: stages, LookupEnv: func(string) (string, bool) { return "", false }})
			if len(diags) != 1 {
				t.Fatalf("%s: want one diagnostic, got %v", c.name, diags)
			}
			d := diags[0]
			line, col := 13, 16 // the 0 of batch_size = 0
			if c.name == "x.yaml" {
				line, col = 9, 17
			}
			if d.Summary != "Value out of range" || d.Subject == nil || d.Subject.Start.Line != line || d.Subject.Start.Column != col ||
				d.Subject.End.Byte-d.Subject.Start.Byte != 1 || !strings.Contains(d.Detail, `"batch_size" must be at least 1; got 0`) {
				t.Errorf("%s: %s at %v: %s", c.name, d.Summary, d.Subject, d.Detail)
			}
		}
	})

	t.Run("stage", func(t *testing.T) {
		err := Def().Run(&stage.Context{Context: context.Background(), Addr: "embed.e[train.t]",
			Params: stage.Params{"split": "test", "batch_size": int64(0)}})
		if err == nil || !strings.Contains(err.Error(), `embed.e[train.t]: batch_size: Value out of range: "batch_size" must be at least 1; got 0`) {
			t.Errorf("Run: %v", err)
		}
		// EmbedSplit is also reached from training's eval_every; it refuses before touching
		// the model or the split.
		if _, _, err := train.EmbedSplit(nil, nil, -1, torch.CPUDevice, nil); err == nil || !strings.Contains(err.Error(), "at least 1") {
			t.Errorf("EmbedSplit: %v", err)
		}
	})
}
