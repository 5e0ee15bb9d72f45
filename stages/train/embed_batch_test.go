package train

import (
	"context"
	"strings"
	"testing"

	"dmlrun/spec"
	"dmlrun/stage"
	"dmlrun/torch"
)

// TestEmbedBatchSizeBelowOne: embed { batch_size = 0 } looped forever (embedSplit's loop
// never advanced) and validate called the file valid. Now validation rejects it at the
// value, and the stage itself refuses it before any work.
func TestEmbedBatchSizeBelowOne(t *testing.T) {
	t.Run("validate", func(t *testing.T) {
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
			_, diags := spec.Parse(c.name, []byte(c.src), spec.LoadOptions{LookupEnv: func(string) (string, bool) { return "", false }})
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
		err := runEmbed(&stage.Context{Context: context.Background(), Addr: "embed.e[train.t]",
			Params: stage.Params{"split": "test", "batch_size": int64(0)}})
		if err == nil || !strings.Contains(err.Error(), "embed embed.e[train.t]: batch_size is 0; it must be at least 1") {
			t.Errorf("runEmbed: %v", err)
		}
		// embedSplit is also reached from training's eval_every; it refuses before touching
		// the model or the split.
		if _, _, err := embedSplit(nil, nil, -1, torch.CPUDevice, nil); err == nil || !strings.Contains(err.Error(), "at least 1") {
			t.Errorf("embedSplit: %v", err)
		}
	})
}
