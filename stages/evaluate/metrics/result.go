package metrics

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// ResultFile is the evaluate artifact's file name.
const ResultFile = "metrics.json"

// Result is metrics.json, the evaluate artifact that report and diff read. It lives in this
// pure-Go package so that readers need not link libtorch.
type Result struct {
	// Metrics maps a metric name to its value; NaN or ±Inf values are written as null and
	// read back as NaN.
	Metrics map[string]Value `json:"metrics"`
	Run     Run              `json:"run"`
	// KMeansClasses is the k used for nmi/f1 (0 when neither was computed).
	KMeansClasses int `json:"kmeans_classes,omitempty"`
	// TrainLog is the model's train_log.csv as the embed artifact copied it (absent when
	// the embed artifact carries none): column names and one row per epoch, empty cells
	// as null.
	TrainLog *Table `json:"train_log,omitempty"`
	// Retrieval records the retrieval picture the node drew (absent when it drew none):
	// which queries, how many neighbours, from which seed.
	Retrieval *Retrieval `json:"retrieval,omitempty"`
}

// Retrieval is metrics.json's record of retrieval.png.
type Retrieval struct {
	Picture string `json:"picture"` // the file, "retrieval.png"
	Seed    int64  `json:"seed"`    // the sample's seed (retrieval_seed)
	// Queries are the drawn queries' indices in the evaluated split, top to bottom.
	Queries []int  `json:"queries"`
	K       int    `json:"k"`       // neighbours drawn per query
	Dataset string `json:"dataset"` // the dataset node the images came from, e.g. "dataset.cub"
}

// Run identifies the evaluated model.
type Run struct {
	Block     string `json:"block"`      // the train block's name ("baseline", "nir"): reports group by it
	Seed      int64  `json:"seed"`       // the train node's seed
	Addr      string `json:"addr"`       // the train node's address, e.g. "train.nir[seed=1]"
	EmbedAddr string `json:"embed_addr"` // the embed node's address
	Split     string `json:"split"`
	N         int    `json:"n"`
	Dim       int    `json:"dim"`
	// Train is how the model trained, as the embed artifact recorded it; nil in a
	// metrics.json written before it was recorded (readers then show nothing about it,
	// rather than taking the zero values for an untrained network).
	Train *Training `json:"train,omitempty"`
}

// Training is how an evaluated model trained (stages/embed's embed.json, from model.json).
type Training struct {
	Epochs  int `json:"epochs"`  // epochs run; 0: the untrained (initialised) network
	Steps   int `json:"steps"`   // optimiser steps taken
	Skipped int `json:"skipped"` // steps skipped for non-finite gradients
	// SelectedEpoch is the epoch whose weights were embedded: -1 the last one, else the
	// one Selection chose.
	SelectedEpoch int `json:"selected_epoch"`
	// Selection is "<split>:<metric>" ("val:e_recall@1", "test:e_recall@1") when the
	// train block kept its best epoch by that metric, "" when it kept the last.
	Selection string `json:"selection,omitempty"`
}

// SelectedOn returns the split and metric of t.Selection ("", "" when the last epoch was
// kept).
func (t *Training) SelectedOn() (split, metric string) {
	if t == nil || t.Selection == "" {
		return "", ""
	}
	split, metric, ok := strings.Cut(t.Selection, ":")
	if !ok {
		return "", t.Selection
	}
	return split, metric
}

// Table is a small numeric table (the train log).
type Table struct {
	Columns []string  `json:"columns"`
	Rows    [][]Value `json:"rows"`
}

// Col returns the index of a column or -1.
func (t *Table) Col(name string) int {
	for i, c := range t.Columns {
		if c == name {
			return i
		}
	}
	return -1
}

// Value is a float64 that encodes non-finite values as JSON null.
type Value float64

// MarshalJSON implements json.Marshaler.
func (v Value) MarshalJSON() ([]byte, error) {
	f := float64(v)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(f)
}

// UnmarshalJSON implements json.Unmarshaler.
func (v *Value) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*v = Value(math.NaN())
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*v = Value(f)
	return nil
}

// WriteResult writes dir/metrics.json.
func WriteResult(dir string, r *Result) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", ResultFile, err)
	}
	return os.WriteFile(filepath.Join(dir, ResultFile), append(b, '\n'), 0o644)
}

// ReadResult reads dir/metrics.json.
func ReadResult(dir string) (*Result, error) {
	p := filepath.Join(dir, ResultFile)
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if r.Metrics == nil {
		return nil, fmt.Errorf("%s: no \"metrics\" object", p)
	}
	return &r, nil
}
