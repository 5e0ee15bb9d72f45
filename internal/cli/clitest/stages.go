package clitest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"dmlrun/stage"
)

// Each test stage run appends its address to runLog so tests can count computations.
var (
	runMu  sync.Mutex
	runLog []string
)

func logRun(addr string) {
	runMu.Lock()
	runLog = append(runLog, addr)
	runMu.Unlock()
}

// TakeRuns returns and clears the addresses of the nodes run in this process so far.
func TakeRuns() []string {
	runMu.Lock()
	defer runMu.Unlock()
	out := runLog
	runLog = nil
	return out
}

// StartedEnv names a file that the train stage's seed-0 node writes once it is inside its
// epoch loop, after which it waits to be cancelled like a long training run (signal tests).
const StartedEnv = "DMLRUN_CLI_STARTED"

// Stages is the registry the in-process dmlrun runs: dataset writes data.txt, train
// (resumable, exclusive) writes model.txt from it, evaluate (one node per model) writes
// metrics.json, source reads a file outside the store through its KeyInputs hook, as the
// real dataset stage digests its folder.
var Stages = func() *stage.Registry {
	r, err := stage.NewRegistry(datasetDef(), trainDef(), evaluateDef(), sourceDef())
	if err != nil {
		panic(err) // a test stage is declared wrong
	}
	return r
}()

func datasetDef() *stage.Def {
	return &stage.Def{Kind: "dataset", Version: 1,
		Params: []stage.Param{
			{Name: "kind", Type: stage.String, Required: true, Enum: []string{"synthetic"}},
			{Name: "n", Type: stage.Int, Default: int64(4)},
		},
		Run: func(c *stage.Context) error {
			logRun(c.Addr)
			fmt.Fprintf(c.Log, "writing %d items\n", c.Params.Int("n"))
			return os.WriteFile(filepath.Join(c.OutDir, "data.txt"), []byte(strings.Repeat("x", int(c.Params.Int("n")))), 0o644)
		}}
}

func trainDef() *stage.Def {
	return &stage.Def{Kind: "train", Version: 1, Resumable: true, Exclusive: true,
		Params: []stage.Param{
			{Name: "dataset", Type: stage.Ref, RefKind: "dataset", Required: true},
			{Name: "seed", Type: stage.Int, Default: int64(0)},
			{Name: "schedule", Type: stage.Object, Fields: []stage.Param{
				{Name: "epochs", Type: stage.Int, Default: int64(2)},
				{Name: "lr", Type: stage.Float, Default: 1e-5},
			}},
		},
		Run: func(c *stage.Context) error {
			logRun(c.Addr)
			epochs := c.Params.Object("schedule").Int("epochs")
			bar := c.Progress.Start("epoch", epochs)
			for range epochs {
				bar.SetStatus("loss 0.5")
				bar.Add(1)
			}
			bar.Finish()
			if c.Resumed {
				fmt.Fprintln(c.Log, "resumed")
			}
			// Signal test: mark the start, then wait to be cancelled like a long epoch loop.
			if marker := os.Getenv(StartedEnv); marker != "" && c.Params.Int("seed") == 0 {
				os.WriteFile(filepath.Join(c.OutDir, "epoch-1.ckpt"), []byte("ckpt"), 0o644)
				os.WriteFile(marker, []byte("started\n"), 0o644)
				<-c.Done()
				return c.Err()
			}
			data, err := os.ReadFile(filepath.Join(c.InputsOf("dataset")[0].Dir, "data.txt"))
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(c.OutDir, "model.txt"),
				[]byte(fmt.Sprintf("%s lr=%g seed=%d", data, c.Params.Object("schedule").Float("lr"), c.Params.Int("seed"))), 0o644)
		}}
}

func evaluateDef() *stage.Def {
	return &stage.Def{Kind: "evaluate", Version: 1, ExpandOver: "models",
		Params: []stage.Param{
			{Name: "models", Type: stage.RefList, RefKind: "train", Required: true},
		},
		Run: func(c *stage.Context) error {
			logRun(c.Addr)
			m := c.InputsOf("models")[0]
			return os.WriteFile(filepath.Join(c.OutDir, "metrics.json"), []byte(fmt.Sprintf(`{"model": %q}`, m.Addr)), 0o644)
		}}
}

func sourceDef() *stage.Def {
	return &stage.Def{Kind: "source", Version: 1,
		Params:        []stage.Param{{Name: "path", Type: stage.String, Required: true}},
		KeyInputsName: "source content",
		KeyInputs: func(_ context.Context, p stage.Params) (string, error) {
			b, err := os.ReadFile(p.String("path"))
			if err != nil {
				return "", fmt.Errorf("cannot read source: %w; expected layout <path>: a text file", err)
			}
			sum := sha256.Sum256(b)
			return "sha256:" + hex.EncodeToString(sum[:]), nil
		},
		Run: func(c *stage.Context) error {
			logRun(c.Addr)
			return nil
		}}
}
