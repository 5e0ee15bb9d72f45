package train

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"dmlrun/stage"
)

// trainTiny trains a one-epoch smallcnn model with the given loss on the tiny dataset and
// returns its artifact directory and the setup.
func trainTiny(t *testing.T, kind string) (string, *setup) {
	t.Helper()
	s := newSetup(t, 6, 8)
	s.params.Object("schedule")["epochs"] = int64(1)
	if kind == "nir" {
		s.params["loss"] = lossParams("nir", map[string]any{"lrmulti": 0.1, "proxy_lrmulti": 100.0,
			"nf_fc_width": int64(32), "nf_fc_depth": int64(3), "nf_cblocks": int64(2), "nf_clamp_alpha": 1.5})
	}
	out := t.TempDir()
	if err := runTrain(s.ctx(t, out, false, nil)); err != nil {
		t.Fatal(err)
	}
	return out, s
}

// TestInspectNIR: the criterion is rebuilt from the artifact (model.json's loss_params and
// the checkpoint), the report covers the first classes with the asked sample count, and
// the same seed gives the same report; older artifacts without loss_params need the block.
func TestInspectNIR(t *testing.T) {
	dir, s := trainTiny(t, "nir")
	rep, err := InspectNIR(dir, 4, 200, 7)
	if err != nil {
		t.Fatal(err)
	}
	if rep.D != 16 || len(rep.Classes) != 4 {
		t.Fatalf("report D %d, %d classes", rep.D, len(rep.Classes))
	}
	for i, c := range rep.Classes {
		if c.Class != i || c.N != 200 || len(c.Eigen) != 16 || !(c.Trace > 0) || !(c.Condition >= 1) {
			t.Errorf("class row %d: %+v", i, c)
		}
	}
	again, err := InspectNIR(dir, 4, 200, 7)
	if err != nil || !reflect.DeepEqual(rep, again) {
		t.Fatalf("same seed, different report (%v)", err)
	}
	other, err := InspectNIR(dir, 4, 200, 8)
	if err != nil || reflect.DeepEqual(rep.Classes[0].Eigen, other.Classes[0].Eigen) {
		t.Fatalf("another seed gave the same samples (%v)", err)
	}
	// More classes than trained: capped at the 6 there are; defaults 10 and 500.
	all, err := InspectNIR(dir, 0, 0, 7)
	if err != nil || len(all.Classes) != 6 || all.Classes[0].N != 500 {
		t.Fatalf("defaults: %d classes, %v", len(all.Classes), err)
	}
	t.Log("\n" + rep.String())

	// An artifact from before loss_params: the caller's loss block is used (and must be the
	// right one: nf_clamp_alpha is not visible in the checkpoint's shapes).
	b, _ := os.ReadFile(filepath.Join(dir, "model.json"))
	var m map[string]any
	json.Unmarshal(b, &m)
	if lp, ok := m["loss_params"].(map[string]any); !ok || lp["nf_clamp_alpha"] != 1.5 || lp["kind"] != nil {
		t.Fatalf("model.json loss_params: %v", m["loss_params"])
	}
	old := t.TempDir()
	delete(m, "loss_params")
	b, _ = json.Marshal(m)
	os.WriteFile(filepath.Join(old, "model.json"), b, 0o644)
	ck, _ := os.ReadFile(filepath.Join(dir, "checkpoint.safetensors"))
	os.WriteFile(filepath.Join(old, "checkpoint.safetensors"), ck, 0o644)
	if _, err := InspectNIR(old, 4, 200, 7); err == nil || !strings.Contains(err.Error(), "no loss_params") {
		t.Fatalf("old model.json without a loss block: %v", err)
	}
	viaBlock, err := InspectNIRWith(old, InspectOptions{Classes: 4, Samples: 200, Seed: 7, Loss: stage.Params(s.params.Object("loss"))})
	if err != nil || !reflect.DeepEqual(rep, viaBlock) {
		t.Fatalf("loss block instead of loss_params: %v", err)
	}
}

func TestInspectNotNIR(t *testing.T) {
	dir, _ := trainTiny(t, "oproxy")
	_, err := InspectNIR(dir, 3, 100, 0)
	if !errors.Is(err, ErrNotNIR) || !strings.Contains(err.Error(), `loss is "oproxy"`) {
		t.Fatalf("want ErrNotNIR naming the loss, got %v", err)
	}
	if _, err := InspectNIR(t.TempDir(), 3, 100, 0); err == nil || !strings.Contains(err.Error(), "model.json") {
		t.Fatalf("untrained directory: %v", err)
	}
}

// TestInspectNode: the node's parameters decide (loss must be nir) before the artifact is
// read; the node's loss block stands in for an old model.json's missing loss_params.
func TestInspectNode(t *testing.T) {
	dir, s := trainTiny(t, "nir")
	want, err := InspectNIR(dir, 3, 100, 1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := InspectNode(s.params, dir, InspectOptions{Classes: 3, Samples: 100, Seed: 1})
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("InspectNode: %v", err)
	}
	// An artifact without loss_params: the node's block is used.
	old := t.TempDir()
	b, _ := os.ReadFile(filepath.Join(dir, ModelInfoFile))
	var m map[string]any
	json.Unmarshal(b, &m)
	delete(m, "loss_params")
	b, _ = json.Marshal(m)
	os.WriteFile(filepath.Join(old, ModelInfoFile), b, 0o644)
	ck, _ := os.ReadFile(filepath.Join(dir, CheckpointFile))
	os.WriteFile(filepath.Join(old, CheckpointFile), ck, 0o644)
	if got, err := InspectNode(s.params, old, InspectOptions{Classes: 3, Samples: 100, Seed: 1}); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("InspectNode on an old artifact: %v", err)
	}

	cases := []struct {
		name   string
		set    func(stage.Params)
		notNIR bool
		want   string
	}{
		{"oproxy", func(p stage.Params) { p["loss"] = lossParams("oproxy", nil) }, true, `loss is "oproxy"`},
		{"invalid", func(p stage.Params) { p["embed_dim"] = int64(0) }, false, `embed_dim`},
	}
	for _, c := range cases {
		p := validParams()
		p["loss"] = lossParams("nir", nil)
		c.set(p)
		// The directory is empty: these are refused from the parameters alone.
		_, err := InspectNode(p, t.TempDir(), InspectOptions{})
		if err == nil || errors.Is(err, ErrNotNIR) != c.notNIR || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
