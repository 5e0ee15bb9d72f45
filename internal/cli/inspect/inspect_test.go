package inspect_test

import (
	"context"
	"dmlrun/internal/cli/clitest"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"dmlrun/internal/cli/cmdutil"
	"dmlrun/internal/cli/inspect"
	"dmlrun/internal/cli/root"
	"dmlrun/internal/iostreams"
	"dmlrun/stage"
	"dmlrun/stages/load"
	"dmlrun/stages/train"
)

const inspectExp = `
dataset "tiny" {
  kind = "folder"
  root = "data"
  base = 40
  crop = 32
}

locals {
  schedule = { epochs = 1, batch_size = 8, lr = 1e-3, augmentation = "base" }
}

train "nir" {
  dataset        = dataset.tiny
  arch           = "smallcnn_normalize"
  not_pretrained = true
  embed_dim      = 8
  loss "nir" {
    lrmulti       = 0.1
    proxy_lrmulti = 100
    nf_fc_width   = 16
    nf_fc_depth   = 2
    nf_cblocks    = 2
  }
  schedule = local.schedule
}

train "base" {
  dataset        = dataset.tiny
  seeds          = [0, 1]
  arch           = "smallcnn_normalize"
  not_pretrained = true
  embed_dim      = 8
  schedule       = local.schedule
}
`

// options -> output, in-process through the real root command: apply trains the nir block
// into a store, inspect prints its report (text and JSON, reproducible), and the errors
// for an untrained node and a non-nir loss say so.
func TestInspectThroughMain(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	clitest.WriteFolderDataset(t, "data", 8, 4)
	if err := os.WriteFile("exp.hcl", []byte(inspectExp), 0o644); err != nil {
		t.Fatal(err)
	}
	stages, err := stage.NewRegistry(load.Def(), train.Def())
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (root.ExitCode, string, string) {
		ios, _, out, errOut := iostreams.Test()
		f := cmdutil.NewFactory(ios, stages)
		f.LookupEnv = func(string) (string, bool) { return "", false }
		code := root.Run(context.Background(), f, append(args, "--store", "results"))
		return code, out.String(), errOut.String()
	}
	// Not trained yet.
	if code, _, errOut := run("inspect", "exp.hcl", "train.nir"); code != root.ExitError || !strings.Contains(errOut, "train.nir is not trained yet") {
		t.Fatalf("untrained: exit %d, stderr %q", code, errOut)
	}
	// A node whose loss is not nir is refused before anything is trained.
	if code, _, errOut := run("inspect", "exp.hcl", "train.base[seed=1]"); code != root.ExitError || !strings.Contains(errOut, `loss is "oproxy"`) || strings.Contains(errOut, "not trained") {
		t.Fatalf("oproxy node before training: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := run("apply", "exp.hcl", "--target", "train.nir", "--device", "cpu", "--threads", "1"); code != root.ExitOK {
		t.Fatalf("apply: exit %d\n%s", code, errOut)
	}
	code, out, errOut := run("inspect", "exp.hcl", "train.nir", "--classes", "3", "--samples", "100", "--seed", "5")
	if code != root.ExitOK {
		t.Fatalf("inspect: exit %d\n%s", code, errOut)
	}
	if !strings.HasPrefix(out, "train.nir (seed 5)\nNIR flow density per class (D = 8)") || strings.Count(out, "\n") != 7 {
		t.Fatalf("inspect output:\n%s", out)
	}
	if _, again, _ := run("inspect", "exp.hcl", "train.nir", "--classes", "3", "--samples", "100", "--seed", "5"); again != out {
		t.Fatalf("same seed, different output:\n%s\nvs\n%s", out, again)
	}
	_, js, _ := run("inspect", "exp.hcl", "train.nir", "--classes", "2", "--samples", "50", "--json")
	var rep inspect.JSON
	if err := json.Unmarshal([]byte(js), &rep); err != nil || rep.Addr != "train.nir" || rep.D != 8 || len(rep.Classes) != 2 ||
		rep.Classes[1].Class != 1 || rep.Classes[1].N != 50 || len(rep.Classes[0].Eigen) != 8 {
		t.Fatalf("--json: %v\n%s", err, js)
	}
	t.Log("\n" + out)
	for _, c := range []struct{ addr, want string }{
		{"train.base[seed=1]", `train.base[seed=1]: loss is "oproxy": not a nir model`},
		{"train.base", "has 2 instances"},
		{"dataset.tiny", "is a dataset node"},
		{"train.nri", "no node train.nri"},
	} {
		if code, _, errOut := run("inspect", "exp.hcl", c.addr); code != root.ExitError || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d, stderr %q, want %q", c.addr, code, errOut, c.want)
		}
	}
}
