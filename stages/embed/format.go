package embed

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"dmlrun/safetensors"
)

// File names inside an embed artifact. train_log.csv is the trained model's log, copied
// so that a report can plot it from the embed artifact alone.
const (
	EmbeddingsFile = "embeddings.safetensors"
	InfoFile       = "embed.json"
	TrainLogFile   = "train_log.csv"
)

// Info is embed.json: which split of which model's dataset was embedded.
type Info struct {
	Split        string `json:"split"`
	N            int    `json:"n"`
	Dim          int    `json:"dim"`
	ModelBlock   string `json:"model_block"`
	ModelAddr    string `json:"model_addr"`
	ModelKey     string `json:"model_key"`
	Seed         int64  `json:"seed"`
	TrainClasses int    `json:"train_classes"` // the number of training classes (k-means k of the original)
	Arch         string `json:"arch"`
	Loss         string `json:"loss"`

	// How the model trained, copied from its model.json so that evaluate, report and diff
	// can show it beside the metrics: epochs run (0: the untrained network), optimiser
	// steps taken and skipped for non-finite gradients, and which epoch's weights were
	// embedded (-1: the last; else the epoch chosen by Selection, "val:e_recall@1" or
	// "test:e_recall@1", the split and metric the train block selected on).
	TrainEpochs   int    `json:"train_epochs"`
	TrainSteps    int    `json:"train_steps"`
	TrainSkipped  int    `json:"train_skipped"`
	SelectedEpoch int    `json:"selected_epoch"`
	Selection     string `json:"selection,omitempty"`
}

// Embeddings are the rows of embeddings.safetensors: Data is N x Dim, row-major.
type Embeddings struct {
	Data      []float32
	Rows, Dim int
	Labels    []int64
}

// WriteInfo writes embed.json into dir.
func WriteInfo(dir string, info Info) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, InfoFile), append(b, '\n'), 0o644)
}

// WriteEmbeddings writes embeddings.safetensors into dir (atomically: a reader never sees a
// partial file). e.Data must hold e.Rows x e.Dim values and e.Labels e.Rows.
func WriteEmbeddings(dir string, e Embeddings) error {
	if len(e.Data) != e.Rows*e.Dim || len(e.Labels) != e.Rows {
		return fmt.Errorf("%s: %d values and %d labels for %d x %d embeddings", EmbeddingsFile, len(e.Data), len(e.Labels), e.Rows, e.Dim)
	}
	et, err := safetensors.F32("embeds", e.Data, int64(e.Rows), int64(e.Dim))
	if err != nil {
		return fmt.Errorf("%s: %w", EmbeddingsFile, err)
	}
	lt, err := safetensors.I64("labels", e.Labels, int64(e.Rows))
	if err != nil {
		return fmt.Errorf("%s: %w", EmbeddingsFile, err)
	}
	return safetensors.Write(filepath.Join(dir, EmbeddingsFile), []safetensors.Tensor{et, lt}, nil)
}

// ReadInfo reads embed.json from an embed artifact directory.
func ReadInfo(dir string) (Info, error) {
	var info Info
	b, err := os.ReadFile(filepath.Join(dir, InfoFile))
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, fmt.Errorf("%s: %w", InfoFile, err)
	}
	return info, nil
}

// Read reads an embed artifact directory: its embeddings and embed.json, checked against
// each other (shapes, N, Dim).
func Read(dir string) (Embeddings, Info, error) {
	var e Embeddings
	info, err := ReadInfo(dir)
	if err != nil {
		return e, info, err
	}
	ts, _, err := safetensors.Read(filepath.Join(dir, EmbeddingsFile))
	if err != nil {
		return e, info, err
	}
	et, ok := ts["embeds"]
	if !ok || len(et.Shape) != 2 {
		return e, info, fmt.Errorf("%s: need tensor \"embeds\" of shape [N,D]", EmbeddingsFile)
	}
	lt, ok := ts["labels"]
	if !ok || len(lt.Shape) != 1 || lt.Shape[0] != et.Shape[0] {
		return e, info, fmt.Errorf("%s: need tensor \"labels\" of shape [%d]", EmbeddingsFile, et.Shape[0])
	}
	if e.Data, err = et.Float32s(); err != nil {
		return e, info, fmt.Errorf("%s: %w", EmbeddingsFile, err)
	}
	if e.Labels, err = lt.Int64s(); err != nil {
		return e, info, fmt.Errorf("%s: %w", EmbeddingsFile, err)
	}
	e.Rows, e.Dim = int(et.Shape[0]), int(et.Shape[1])
	if info.N != e.Rows || info.Dim != e.Dim {
		return e, info, fmt.Errorf("%s says %d x %d, %s holds %d x %d", InfoFile, info.N, info.Dim, EmbeddingsFile, e.Rows, e.Dim)
	}
	return e, info, nil
}
