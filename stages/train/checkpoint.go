package train

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"dmlrun/torch"
	"dmlrun/torch/optim"
)

// Checkpoint layout (safetensors). Tensor names:
//
//	model.<torchvision name>        backbone and last_linear weights, BN running stats
//	criterion.<name>                proxies, flow, ... (Criterion.Named)
//	optim.<k>.exp_avg / .exp_avg_sq Adam moments of the k-th trainable tensor (epoch files only)
//
// Epoch files (epoch-N.safetensors) also carry metadata: "epoch" (last complete epoch N),
// "scaler" (scale and growth counter), "consecutive_skipped", "optim_steps" (per-tensor
// Adam step counts, JSON) and "log" (train_log rows so far, JSON). The final
// checkpoint.safetensors has the weights only and metadata {"arch", "embed_dim", "loss",
// "seed"}: nothing time-dependent, so an interrupted and resumed run writes the same bytes
// as an uninterrupted one (on CPU with the same thread count).
//
// Only the newest epoch file is kept (each holds weights plus two Adam moments, ~300 MB for
// ResNet50); it is deleted once the final checkpoint and model.json are in place.
//
// With selection (select.metric), the weights of the best evaluated epoch so far are kept in
// best-K.safetensors, written atomically when an epoch beats the best, before that epoch's
// epoch file; each epoch file records the current best (metadata "best": {"epoch", "value"})
// and, once written, lets older best files go. A resumed run so reads the best epoch and its
// weights that belong to the epoch it resumes from, and ends with the same bytes. The final
// checkpoint.safetensors is then the best epoch's weights (same names and metadata as
// without selection); the last epoch's weights are not kept (a block without select has
// them).

var (
	epochFileRE = regexp.MustCompile(`^epoch-(\d+)\.safetensors$`)
	bestFileRE  = regexp.MustCompile(`^best-(\d+)\.safetensors$`)
)

func epochCheckpointName(epoch int) string { return fmt.Sprintf("epoch-%d.safetensors", epoch) }

// bestCheckpointName is the file holding the weights of the best epoch so far when the
// train block selects (select.metric set): weights only (model.*, criterion.*), metadata
// "epoch" and "value". The epoch files' "best" metadata names which one is current.
func bestCheckpointName(epoch int) string { return fmt.Sprintf("best-%d.safetensors", epoch) }

// bestEpoch is the selection's state: the evaluated epoch with the largest value so far
// (Epoch -1: none yet).
type bestEpoch struct {
	Epoch int     `json:"epoch"`
	Value float64 `json:"value"`
}

// weights returns the model and criterion tensors under checkpoint names.
func (t *trainer) weights() ([]string, []*torch.Tensor) {
	var names []string
	var ts []*torch.Tensor
	n, m := t.model.State()
	for i := range n {
		names = append(names, "model."+n[i])
		ts = append(ts, m[i])
	}
	cn, ct := t.crit.Named()
	for i := range cn {
		names = append(names, "criterion."+cn[i])
		ts = append(ts, ct[i])
	}
	return names, ts
}

type scalerMeta struct {
	Scale  float64 `json:"scale"`
	Growth int     `json:"growth"`
}

// saveEpoch writes epoch-N.safetensors atomically and removes older epoch files.
func (t *trainer) saveEpoch(epoch int) error {
	names, ts := t.weights()
	var steps []int64
	st := t.opt.State()
	for _, g := range st.Params {
		for _, ps := range g {
			k := len(steps)
			steps = append(steps, ps.Step)
			if ps.ExpAvg != nil {
				names = append(names, fmt.Sprintf("optim.%d.exp_avg", k), fmt.Sprintf("optim.%d.exp_avg_sq", k))
				ts = append(ts, ps.ExpAvg, ps.ExpAvgSq)
			}
		}
	}
	sc, _ := json.Marshal(scalerMeta{Scale: t.scaler.ScaleValue(), Growth: t.scaler.GrowthTracker()})
	stj, _ := json.Marshal(steps)
	lg, _ := json.Marshal(t.log)
	meta := map[string]string{
		"epoch":               strconv.Itoa(epoch),
		"scaler":              string(sc),
		"consecutive_skipped": strconv.Itoa(t.consec),
		"optim_steps":         string(stj),
		"log":                 string(lg),
	}
	if t.selecting() {
		b, _ := json.Marshal(t.best)
		meta["best"] = string(b)
	}
	if err := saveAtomic(filepath.Join(t.ctx.OutDir, epochCheckpointName(epoch)), names, ts, meta); err != nil {
		return err
	}
	if err := removeFiles(t.ctx.OutDir, epochFileRE, epoch); err != nil {
		return err
	}
	// The new epoch file names the current best, so the others can go.
	return removeFiles(t.ctx.OutDir, bestFileRE, t.best.Epoch)
}

// saveBest writes the current weights as the best epoch's (best-<epoch>.safetensors,
// atomically) and makes it the selection's state.
func (t *trainer) saveBest(epoch int, value float64) error {
	names, ts := t.weights()
	meta := map[string]string{"epoch": strconv.Itoa(epoch), "value": strconv.FormatFloat(value, 'g', -1, 64)}
	if err := saveAtomic(filepath.Join(t.ctx.OutDir, bestCheckpointName(epoch)), names, ts, meta); err != nil {
		return err
	}
	t.best = bestEpoch{Epoch: epoch, Value: value}
	return nil
}

// removeFiles deletes every file of dir whose name re matches, except the one whose number
// (re's first group) is keep (-1: all).
func removeFiles(dir string, re *regexp.Regexp, keep int) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		m := re.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		if n, _ := strconv.Atoi(m[1]); n != keep {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// resume loads the newest readable epoch file in OutDir and returns the next epoch to run
// (0 when there is none).
func (t *trainer) resume() (int, error) {
	ents, err := os.ReadDir(t.ctx.OutDir)
	if err != nil {
		return 0, err
	}
	var epochs []int
	for _, e := range ents {
		if m := epochFileRE.FindStringSubmatch(e.Name()); m != nil {
			n, _ := strconv.Atoi(m[1])
			epochs = append(epochs, n)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(epochs)))
	for _, ep := range epochs {
		path := filepath.Join(t.ctx.OutDir, epochCheckpointName(ep))
		err := t.loadEpoch(path, ep)
		if err == nil {
			fmt.Fprintf(t.ctx.Log, "%s: resuming after epoch %d from %s\n", t.ctx.Addr, ep, path)
			return ep + 1, nil
		}
		fmt.Fprintf(t.ctx.Log, "%s: cannot resume from %s: %v\n", t.ctx.Addr, path, err)
	}
	return 0, nil
}

func (t *trainer) loadEpoch(path string, epoch int) error {
	sd, _, meta, err := torch.LoadSafetensors(path)
	if err != nil {
		return err
	}
	defer func() {
		for _, v := range sd {
			v.Close()
		}
	}()
	if meta["epoch"] != strconv.Itoa(epoch) {
		return fmt.Errorf("metadata epoch %q does not match the file name", meta["epoch"])
	}
	var sc scalerMeta
	var steps []int64
	var rows []logRow
	best := bestEpoch{Epoch: -1}
	consec, err := strconv.Atoi(meta["consecutive_skipped"])
	if err != nil {
		return fmt.Errorf("metadata consecutive_skipped: %w", err)
	}
	fields := map[string]any{"scaler": &sc, "optim_steps": &steps, "log": &rows}
	if t.selecting() {
		fields["best"] = &best
	}
	for k, dst := range fields {
		if err := json.Unmarshal([]byte(meta[k]), dst); err != nil {
			return fmt.Errorf("metadata %s: %w", k, err)
		}
	}
	if best.Epoch >= 0 {
		if _, err := os.Stat(filepath.Join(t.ctx.OutDir, bestCheckpointName(best.Epoch))); err != nil {
			return fmt.Errorf("the best epoch's weights: %w", err)
		}
	}
	if len(steps) != len(t.params) {
		return fmt.Errorf("checkpoint has %d optimiser entries, model and criterion have %d trainable tensors", len(steps), len(t.params))
	}
	names, ts := t.weights()
	for i, n := range names {
		src, ok := sd[n]
		if !ok {
			return fmt.Errorf("tensor %s missing", n)
		}
		if !sameShape(src.Shape(), ts[i].Shape()) {
			return fmt.Errorf("tensor %s: shape %v, want %v", n, src.Shape(), ts[i].Shape())
		}
	}
	err = torch.WithScope(func() error {
		for i, n := range names {
			ts[i].CopyFrom(sd[n].To(ts[i].Device()))
		}
		// Adam state: group learning rates as constructed (the scheduler is replayed
		// below), moments and step counts per trainable tensor in group order.
		st := optim.State{}
		k := 0
		for g := 0; g < t.opt.NumGroups(); g++ {
			st.LR = append(st.LR, t.opt.LR(g))
			var ps []optim.ParamState
			for range t.opt.Group(g).Params {
				ea, eas := sd[fmt.Sprintf("optim.%d.exp_avg", k)], sd[fmt.Sprintf("optim.%d.exp_avg_sq", k)]
				if (ea == nil) != (steps[k] == 0) {
					return fmt.Errorf("optimiser state of trainable tensor %d is inconsistent (step %d)", k, steps[k])
				}
				ps = append(ps, optim.ParamState{Step: steps[k], ExpAvg: ea, ExpAvgSq: eas})
				k++
			}
			st.Params = append(st.Params, ps)
		}
		return t.opt.LoadState(st)
	})
	if err != nil {
		return err
	}
	if err := t.scaler.LoadState(sc.Scale, sc.Growth); err != nil {
		return fmt.Errorf("metadata scaler: %w", err)
	}
	t.consec = consec
	t.log = rows
	t.best = best
	// MultiStepLR: replay the per-epoch steps so the learning rates are the same floats.
	if t.cfg.Schedule.Scheduler != "none" {
		for e := 0; e <= epoch; e++ {
			t.sched.Step()
		}
	}
	return nil
}

// saveFinal writes checkpoint.safetensors (weights only, deterministic metadata): the
// current weights, or with selection the best epoch's from its best file.
func (t *trainer) saveFinal() error {
	names, ts := t.weights()
	meta := map[string]string{
		"arch":      t.cfg.Arch,
		"embed_dim": strconv.FormatInt(t.cfg.EmbedDim, 10),
		"loss":      t.cfg.Loss.Kind,
		"seed":      strconv.FormatInt(t.cfg.Seed, 10),
	}
	if !t.selecting() {
		return saveAtomic(filepath.Join(t.ctx.OutDir, CheckpointFile), names, ts, meta)
	}
	if t.best.Epoch < 0 {
		return fmt.Errorf("select: no evaluated epoch gave a %s that is a number, so there is no epoch to select (see train_log.csv)", evalColumn(t.cfg.Select.Split, t.cfg.Select.Metric))
	}
	name := bestCheckpointName(t.best.Epoch)
	sd, _, bm, err := torch.LoadSafetensors(filepath.Join(t.ctx.OutDir, name))
	if err != nil {
		return fmt.Errorf("the selected epoch's weights: %w", err)
	}
	defer func() {
		for _, v := range sd {
			v.Close()
		}
	}()
	if bm["epoch"] != strconv.Itoa(t.best.Epoch) {
		return fmt.Errorf("%s: metadata epoch %q does not match its name", name, bm["epoch"])
	}
	best := make([]*torch.Tensor, len(names))
	for i, n := range names {
		if best[i] = sd[n]; best[i] == nil || !sameShape(best[i].Shape(), ts[i].Shape()) {
			return fmt.Errorf("%s: tensor %s missing or of another shape", name, n)
		}
	}
	return saveAtomic(filepath.Join(t.ctx.OutDir, CheckpointFile), names, best, meta)
}

// saveAtomic writes to a temporary sibling and renames it into place.
func saveAtomic(path string, names []string, ts []*torch.Tensor, meta map[string]string) error {
	tmp := path + ".tmp"
	if err := torch.SaveSafetensors(tmp, names, ts, meta); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// writeFileAtomic writes data to path through a temporary sibling.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// logRow is one train_log.csv row.
type logRow struct {
	Epoch int
	Loss  float64 // NaN when no step had a finite loss
	// Terms are the loss terms' means over the same steps as Loss, in the criterion's
	// TermNames order (criteria.Termed; nil for a loss of one term), NaN as Loss is.
	Terms   []float64
	Skipped int
	Steps   int
	LRs     []float64
	Seconds float64 // the epoch's training steps
	// EvalSeconds is the epoch's evaluation (embedding and metrics of every evaluated
	// split); NaN on epochs without evaluation.
	EvalSeconds float64
	// Evals holds the epoch's evaluation by train_log.csv column (<split>_<metric>); nil
	// on epochs without evaluation, NaN for a value that is not a number.
	Evals map[string]float64
}

// logRowJSON is logRow in epoch files' "log" metadata: NaN (no finite loss, a metric that
// is not a number) is stored as null, which JSON can hold.
type logRowJSON struct {
	Epoch   int                 `json:"epoch"`
	Loss    *float64            `json:"loss"`
	Terms   []*float64          `json:"terms,omitempty"`
	Skipped int                 `json:"skipped"`
	Steps   int                 `json:"steps"`
	LRs     []float64           `json:"lrs"`
	Seconds float64             `json:"seconds"`
	EvalSec *float64            `json:"eval_seconds,omitempty"`
	Evals   map[string]*float64 `json:"evals,omitempty"`
}

func orNull(v float64) *float64 {
	if math.IsNaN(v) {
		return nil
	}
	return &v
}

func orNaN(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// MarshalJSON stores NaN as null.
func (r logRow) MarshalJSON() ([]byte, error) {
	p := logRowJSON{Epoch: r.Epoch, Loss: orNull(r.Loss), Skipped: r.Skipped, Steps: r.Steps, LRs: r.LRs, Seconds: r.Seconds, EvalSec: orNull(r.EvalSeconds)}
	for _, v := range r.Terms {
		p.Terms = append(p.Terms, orNull(v))
	}
	if r.Evals != nil {
		p.Evals = map[string]*float64{}
		for k, v := range r.Evals {
			p.Evals[k] = orNull(v)
		}
	}
	return json.Marshal(p)
}

// UnmarshalJSON is MarshalJSON's inverse.
func (r *logRow) UnmarshalJSON(b []byte) error {
	var p logRowJSON
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*r = logRow{Epoch: p.Epoch, Loss: orNaN(p.Loss), Skipped: p.Skipped, Steps: p.Steps, LRs: p.LRs, Seconds: p.Seconds, EvalSeconds: orNaN(p.EvalSec)}
	for _, v := range p.Terms {
		r.Terms = append(r.Terms, orNaN(v))
	}
	if p.Evals != nil {
		r.Evals = map[string]float64{}
		for k, v := range p.Evals {
			r.Evals[k] = orNaN(v)
		}
	}
	return nil
}

// writeLog writes train_log.csv: epoch, loss, loss_<term>... (the terms of a loss that is a
// sum of named terms, criteria.Termed: nir's loss_proxyanchor and loss_nir, which add up to
// loss), skipped, steps, lr_<group>..., seconds (the training steps), eval_seconds (the
// evaluation, when eval_every evaluates anything; empty on epochs without), then one column per evaluated split and
// metric (evalCols, <split>_<metric>, empty on epochs without evaluation). The old log's
// test Recall@1 column, test_recall@1, is now test_e_recall@1. It writes the same log as
// TensorBoard events too (writeEvents).
func writeLog(dir string, groups, terms, evalCols []string, rows []logRow) error {
	for _, r := range rows {
		if len(r.Terms) != len(terms) {
			return fmt.Errorf("%s: epoch %d logs %d loss terms for the criterion's %d (%s)", LogFile, r.Epoch, len(r.Terms), len(terms), strings.Join(terms, ", "))
		}
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	head := []string{"epoch", "loss"}
	for _, n := range terms {
		head = append(head, "loss_"+n)
	}
	head = append(head, "skipped", "steps")
	for _, g := range groups {
		head = append(head, "lr_"+g)
	}
	head = append(head, "seconds")
	if len(evalCols) > 0 {
		head = append(head, "eval_seconds")
	}
	head = append(head, evalCols...)
	w.Write(head)
	for _, r := range rows {
		rec := []string{strconv.Itoa(r.Epoch), fmtFloat(r.Loss)}
		for _, v := range r.Terms {
			rec = append(rec, fmtFloat(v))
		}
		rec = append(rec, strconv.Itoa(r.Skipped), strconv.Itoa(r.Steps))
		for _, lr := range r.LRs {
			rec = append(rec, strconv.FormatFloat(lr, 'g', -1, 64))
		}
		rec = append(rec, strconv.FormatFloat(r.Seconds, 'f', 4, 64))
		if len(evalCols) > 0 {
			rec = append(rec, fmtSeconds(r.EvalSeconds))
		}
		for _, c := range evalCols {
			v, ok := r.Evals[c]
			if !ok {
				v = math.NaN()
			}
			rec = append(rec, fmtFloat(v))
		}
		w.Write(rec)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, LogFile), buf.Bytes()); err != nil {
		return err
	}
	return writeEvents(dir, groups, terms, evalCols, rows) // the same log for TensorBoard
}

// fmtSeconds renders a duration column: four decimals, "" for NaN (not measured).
func fmtSeconds(v float64) string {
	if math.IsNaN(v) {
		return ""
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}

func fmtFloat(v float64) string {
	if math.IsNaN(v) {
		return ""
	}
	return strconv.FormatFloat(v, 'f', 6, 64)
}

func sameShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
