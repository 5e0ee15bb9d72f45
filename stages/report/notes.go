package report

import (
	"fmt"
	"strings"

	"dmlrun/stages/evaluate/metrics"
)

// Note says what a reader of a run's numbers must know about how its model trained, as
// metrics.json records it (Run.Training): "untrained" for the initialised network (epochs
// = 0, a floor rather than a result), "skipped 10 steps" when steps were skipped for
// non-finite gradients, and "epoch 12 selected on test by e_recall@1" when the train block
// kept its best epoch by a metric (on test that is an optimistic estimate, and the note
// says so in every table). "" when there is nothing to say or nothing is recorded.
func (r Run) Note() string { return note([]Run{r}, true) }

// Note is a row's note: its runs' notes, summed over seeds ("skipped 12 steps in 2 of 3
// runs").
func (g Group) Note() string { return note(g.Runs, false) }

// note summarises runs' training records; one tells epoch numbers, several do not.
func note(runs []Run, one bool) string {
	var parts []string
	n, untrained, skippedRuns, skipped := 0, 0, 0, 0
	var selections []string
	epochs := map[string][]int{}
	for _, r := range runs {
		t := r.Training
		if t == nil {
			continue
		}
		n++
		if t.Epochs == 0 {
			untrained++
			continue
		}
		if t.Skipped > 0 {
			skippedRuns++
			skipped += t.Skipped
		}
		if t.Selection != "" {
			if _, ok := epochs[t.Selection]; !ok {
				selections = append(selections, t.Selection)
			}
			epochs[t.Selection] = append(epochs[t.Selection], t.SelectedEpoch)
		}
	}
	switch {
	case untrained == 0:
	case untrained == n && n == len(runs):
		parts = append(parts, "untrained")
	default:
		parts = append(parts, fmt.Sprintf("untrained in %d of %d runs", untrained, len(runs)))
	}
	switch {
	case skippedRuns == 0:
	case one || len(runs) == 1:
		parts = append(parts, fmt.Sprintf("skipped %d steps", skipped))
	default:
		parts = append(parts, fmt.Sprintf("skipped %d steps in %d of %d runs", skipped, skippedRuns, len(runs)))
	}
	for _, s := range selections {
		split, metric := (&metrics.Training{Selection: s}).SelectedOn()
		on := "selected on " + split + " by " + metric
		if split == "" {
			on = "selected by " + metric
		}
		if one {
			on = fmt.Sprintf("epoch %d %s", epochs[s][0], on)
		}
		parts = append(parts, on)
	}
	return strings.Join(parts, "; ")
}

// selectedOnTest says whether any run's epoch was chosen on the test split.
func selectedOnTest(runs []Run) bool {
	for _, r := range runs {
		if split, _ := r.Training.SelectedOn(); split == "test" {
			return true
		}
	}
	return false
}
