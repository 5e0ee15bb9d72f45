package train

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAugmentationModes: "adv" trains (and differs from "base"); "big" trains exactly like
// "base" at the dataset's crop and warns when that crop is not the original's 256.
func TestAugmentationModes(t *testing.T) {
	ckpt := map[string][]byte{}
	logs := map[string]string{}
	for _, mode := range []string{"base", "big", "adv"} {
		s := newSetup(t, 6, 8)
		sch := s.params.Object("schedule")
		sch["epochs"], sch["augmentation"] = int64(1), mode
		out := t.TempDir()
		var log bytes.Buffer
		if err := runTrain(s.ctx(t, out, false, &log)); err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		rows := readLog(t, out)
		if rows[1][1] == "" || rows[1][2] != "0" {
			t.Fatalf("%s: epoch row %v", mode, rows[1])
		}
		ckpt[mode], _ = os.ReadFile(filepath.Join(out, "checkpoint.safetensors"))
		logs[mode] = log.String()
	}
	if !bytes.Equal(ckpt["base"], ckpt["big"]) {
		t.Error(`"big" at the dataset's crop should train exactly like "base"`)
	}
	if bytes.Equal(ckpt["base"], ckpt["adv"]) {
		t.Error(`"adv" trained exactly like "base"`)
	}
	if !strings.Contains(logs["big"], `warning: train.test[seed=0]: augmentation "big"`) || !strings.Contains(logs["big"], "has crop 32 (base 40)") ||
		strings.Contains(logs["base"], "warning") {
		t.Errorf("big warning: %q / base log %q", logs["big"], logs["base"])
	}
}
