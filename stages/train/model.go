package train

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"dmlrun/stage"
	"dmlrun/stages/models"
	"dmlrun/stages/train/criteria"
	"dmlrun/torch"
)

// ModelInfo is model.json: everything needed to rebuild the network from a train artifact.
// ReadModelInfo is its one reader; embed and NIR inspection use it (or LoadModel).
type ModelInfo struct {
	Version   int    `json:"version"`
	Arch      string `json:"arch"`
	EmbedDim  int64  `json:"embed_dim"`
	FeatDim   int64  `json:"feat_dim"`
	Normalize bool   `json:"normalize"`
	Loss      string `json:"loss"`
	Seed      int64  `json:"seed"`
	// Epochs is the number of epochs trained (0: the initialised network, stored untrained);
	// Steps the optimiser steps over all of them and Skipped those skipped for non-finite
	// gradients (train_log.csv has them per epoch). SelectedEpoch is the epoch whose weights
	// the checkpoint holds, -1 for the last one (no selection); with selection, Selection is
	// "<split>:<metric>" ("val:e_recall@1"; "test:..." only with select.allow_test, and
	// tables label it) and SelectionValue the metric's value at the selected epoch.
	Epochs         int      `json:"epochs"`
	Steps          int      `json:"steps"`
	Skipped        int      `json:"skipped"`
	SelectedEpoch  int      `json:"selected_epoch"`
	Selection      string   `json:"selection,omitempty"`
	SelectionValue *float64 `json:"selection_value,omitempty"`
	DatasetKey     string   `json:"dataset_key"`
	DatasetAddr    string   `json:"dataset_addr"`
	TrainClasses   int      `json:"train_classes"`
	Checkpoint     string   `json:"checkpoint"`
	Pretrained     string   `json:"pretrained,omitempty"`        // path of the ImageNet weights loaded
	PretrainedSHA  string   `json:"pretrained_sha256,omitempty"` // their digest (also in the key, through keyInputs)
	// LossParams is the loss block's fields (defaults filled, without "kind"), so that the
	// criterion can be rebuilt from the artifact (InspectNIR). Absent in artifacts written
	// before it was added.
	LossParams map[string]any `json:"loss_params,omitempty"`
}

func writeModelInfo(dir string, info ModelInfo) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", ModelInfoFile, err)
	}
	return writeFileAtomic(filepath.Join(dir, ModelInfoFile), append(b, '\n'))
}

// ReadModelInfo reads and version-checks model.json of the train artifact in dir.
func ReadModelInfo(dir string) (*ModelInfo, error) {
	b, err := os.ReadFile(filepath.Join(dir, ModelInfoFile))
	if err != nil {
		return nil, err
	}
	var info ModelInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", dir, ModelInfoFile, err)
	}
	if info.Version != Version {
		return nil, fmt.Errorf("%s: %s: train stage version %d, this dmlrun reads %d", dir, ModelInfoFile, info.Version, Version)
	}
	return &info, nil
}

// LossBlock returns model.json's loss block in canonical form (against the built-in loss's
// schema: JSON numbers decode as float64, the losses read int64 for Int fields; a field
// missing from an older model.json gets its default), with "kind", or nil when model.json
// has none.
func (m *ModelInfo) LossBlock() (stage.Params, error) {
	if m.LossParams == nil {
		return nil, nil
	}
	schema, ok := criteria.Variants()[m.Loss]
	if !ok {
		return nil, fmt.Errorf("loss_params: unknown loss %q", m.Loss)
	}
	out, err := stage.CanonicalParams(schema, m.LossParams)
	if err != nil {
		return nil, fmt.Errorf("loss_params: %w", err)
	}
	out["kind"] = m.Loss
	return out, nil
}

// LoadModel rebuilds the trained network of the train artifact in dir on dev (model.json
// and the checkpoint's model.* tensors) and returns it with model.json. The caller closes
// the model. Call it inside torch.Pinned (it makes tensors).
func LoadModel(dir string, dev torch.Device) (*models.Model, *ModelInfo, error) {
	info, err := ReadModelInfo(dir)
	if err != nil {
		return nil, nil, err
	}
	torch.ManualSeed(uint64(info.Seed))
	m, err := models.New(info.Arch, info.EmbedDim, dev)
	if err != nil {
		return nil, nil, err
	}
	sd, _, _, err := torch.LoadSafetensors(filepath.Join(dir, info.Checkpoint))
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	defer func() {
		for _, t := range sd {
			t.Close()
		}
	}()
	ms := map[string]*torch.Tensor{}
	for k, v := range sd {
		if n, ok := strings.CutPrefix(k, "model."); ok {
			ms[n] = v
		}
	}
	if err := m.LoadState(ms, nil); err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("%s: %w", info.Checkpoint, err)
	}
	return m, info, nil
}
