package train

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"dmlrun/internal/tfevents"
)

// EventsFile is the artifact's TensorBoard event file: the scalars of train_log.csv per
// epoch. TensorBoard finds it by the "tfevents" in its name (`tensorboard --logdir` on the
// store, or on one artifact).
const EventsFile = "events.out.tfevents.dmlrun"

// Tags of the scalars every epoch logs; the learning rates are "lr/<group>" and the
// evaluated metrics "<split>/<metric>", the loss terms "train/loss/<term>" (train_log.csv's
// lr_<group>, <split>_<metric> and loss_<term>).
const (
	tagLoss    = "train/loss"
	tagSkipped = "train/skipped"
	tagSteps   = "train/steps"
)

// trainEvents turns the log into one event per epoch, with the same values as
// train_log.csv's row (float32, as TensorBoard stores scalars) except its seconds, which
// are the clock's and would make the file differ between two runs of one key.
//
// Step is the epoch counted from 1, as the progress line ("epoch 1/3") and the report's
// curves count it: train_log.csv's epoch column + 1. A value the CSV leaves empty (a loss
// with no finite step, an epoch without evaluation, a metric that is not a number) is no
// value at that step. WallTime is the step in seconds, not the clock: the file is a
// function of the log, so a resumed run writes the bytes of an uninterrupted one (the
// crash matrix and TestResumeByteIdentical compare them). Evaluation columns are
// <split>_<metric> with split one of evalSplits (no underscore), so the tag splits at the
// first underscore.
func trainEvents(groups, terms, evalCols []string, rows []logRow) ([]tfevents.Event, error) {
	tags := make([]string, len(evalCols))
	for i, c := range evalCols {
		sp, m, ok := strings.Cut(c, "_")
		if !ok || sp == "" || m == "" {
			return nil, fmt.Errorf("evaluation column %q is not <split>_<metric>", c)
		}
		tags[i] = sp + "/" + m
	}
	out := make([]tfevents.Event, 0, len(rows))
	for _, r := range rows {
		if len(r.LRs) != len(groups) {
			return nil, fmt.Errorf("epoch %d logs %d learning rates for %d optimiser groups", r.Epoch, len(r.LRs), len(groups))
		}
		if len(r.Terms) != len(terms) {
			return nil, fmt.Errorf("epoch %d logs %d loss terms for the criterion's %d", r.Epoch, len(r.Terms), len(terms))
		}
		step := int64(r.Epoch) + 1
		e := tfevents.Event{WallTime: float64(step), Step: step}
		add := func(tag string, v float64) {
			if !math.IsNaN(v) {
				e.Values = append(e.Values, tfevents.Value{Tag: tag, Simple: float32(v)})
			}
		}
		add(tagLoss, r.Loss)
		for i, n := range terms {
			add(tagLoss+"/"+n, r.Terms[i])
		}
		add(tagSkipped, float64(r.Skipped))
		add(tagSteps, float64(r.Steps))
		for i, g := range groups {
			add("lr/"+g, r.LRs[i])
		}
		if r.Evals != nil {
			for i, c := range evalCols {
				if v, ok := r.Evals[c]; ok {
					add(tags[i], v)
				}
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// writeEvents writes EventsFile into dir from the log (replacing it whole, as writeLog
// does train_log.csv, so a partial directory always holds the log so far).
func writeEvents(dir string, groups, terms, evalCols []string, rows []logRow) error {
	events, err := trainEvents(groups, terms, evalCols, rows)
	if err != nil {
		return fmt.Errorf("%s: %w", EventsFile, err)
	}
	return writeFileAtomic(filepath.Join(dir, EventsFile), tfevents.Encode(0, events))
}
