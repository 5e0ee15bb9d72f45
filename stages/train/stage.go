package train

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"dmlrun/internal/failpoint"
	"dmlrun/stage"
	"dmlrun/torch"
)

func init() {
	stage.Register(&stage.Def{
		Kind:      "train",
		Version:   Version,
		Params:    trainParams(),
		Doc:       "Trains an embedding network (backbone + last_linear) with a DML criterion on a prepared dataset; writes checkpoint.safetensors, model.json and train_log.csv.",
		Resumable: true,
		Exclusive: true,
		Run:       runTrain,

		KeyInputs:     keyInputs,
		KeyInputsName: "pretrained weights",
	})
	stage.Register(&stage.Def{
		Kind:       "embed",
		Version:    EmbedVersion,
		Params:     embedParams(),
		Doc:        "Embeds one split of a prepared dataset with a trained model (evaluation transform, no gradients); writes embeddings.safetensors and embed.json.",
		ExpandOver: "models",
		Exclusive:  true,
		Run:        runEmbed,
	})
}

// modelInfo is model.json: everything needed to rebuild the network from the artifact.
type modelInfo struct {
	Version       int    `json:"version"`
	Arch          string `json:"arch"`
	EmbedDim      int64  `json:"embed_dim"`
	FeatDim       int64  `json:"feat_dim"`
	Normalize     bool   `json:"normalize"`
	Loss          string `json:"loss"`
	Seed          int64  `json:"seed"`
	Epochs        int    `json:"epochs"`
	DatasetKey    string `json:"dataset_key"`
	DatasetAddr   string `json:"dataset_addr"`
	TrainClasses  int    `json:"train_classes"`
	Checkpoint    string `json:"checkpoint"`
	Pretrained    string `json:"pretrained,omitempty"`        // path of the ImageNet weights loaded
	PretrainedSHA string `json:"pretrained_sha256,omitempty"` // their digest (also in the key, through keyInputs)
	// LossParams is the loss block's fields (defaults filled, without "kind"), so that the
	// criterion can be rebuilt from the artifact (InspectNIR). Absent in artifacts written
	// before it was added.
	LossParams map[string]any `json:"loss_params,omitempty"`
}

func runTrain(ctx *stage.Context) error {
	err := torch.Pinned(threads(ctx), func() error {
		cfg, err := parseConfig(ctx.Params)
		if err != nil {
			return err
		}
		t, err := newTrainer(ctx, cfg)
		if err != nil {
			return err
		}
		defer t.close()
		start := 0
		if ctx.Resumed {
			if start, err = t.resume(); err != nil {
				return fmt.Errorf("resume: %w", err)
			}
		}
		if err := t.run(start); err != nil {
			return err
		}
		if err := t.saveFinal(); err != nil {
			return err
		}
		info := modelInfo{
			Version: Version, Arch: cfg.Arch, EmbedDim: cfg.EmbedDim, FeatDim: t.model.FeatDim,
			Normalize: t.model.Arch.Normalize, Loss: cfg.LossKind, Seed: cfg.Seed, Epochs: cfg.Epochs,
			DatasetKey: t.datasetIn.Key, DatasetAddr: t.datasetIn.Addr, TrainClasses: t.numClasses,
			Checkpoint: "checkpoint.safetensors", LossParams: map[string]any{},
		}
		for k, v := range cfg.Loss {
			if k != "kind" {
				info.LossParams[k] = v
			}
		}
		if t.pretrainedSHA != "" {
			info.Pretrained, info.PretrainedSHA = cfg.Pretrained, t.pretrainedSHA
		}
		b, _ := json.MarshalIndent(info, "", "  ")
		if err := writeFileAtomic(filepath.Join(ctx.OutDir, "model.json"), append(b, '\n')); err != nil {
			return err
		}
		if err := writeLog(ctx.OutDir, t.groupNames, cfg.EvalEvery > 0, t.log); err != nil {
			return err
		}
		if err := failpoint.Inject("train.final"); err != nil {
			return err
		}
		return removeEpochFiles(ctx.OutDir, -1)
	})
	if err != nil {
		return fmt.Errorf("train %s: %w", ctx.Addr, err)
	}
	return nil
}
