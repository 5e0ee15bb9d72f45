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

// Each test stage run appends its address to runLog so tests can count computations; with
// runFileEnv set (NodeProcesses), to that file too, which the node processes of apply -j N
// share with the test.
var (
	runMu  sync.Mutex
	runLog []string
)

const runFileEnv = "DMLRUN_CLI_RUNFILE"

func logRun(addr string) {
	runMu.Lock()
	defer runMu.Unlock()
	if name := os.Getenv(runFileEnv); name != "" {
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			panic(err) // the test's own temp file
		}
		defer f.Close()
		fmt.Fprintln(f, addr) // one short write with O_APPEND: lines of processes do not mix
		return
	}
	runLog = append(runLog, addr)
}

// TakeRuns returns and clears the addresses of the nodes run so far: in this process, or in
// any process of the test with NodeProcesses.
func TakeRuns() []string {
	runMu.Lock()
	defer runMu.Unlock()
	if name := os.Getenv(runFileEnv); name != "" {
		b, err := os.ReadFile(name)
		if err != nil && !os.IsNotExist(err) {
			panic(err)
		}
		os.Remove(name)
		return strings.FieldsFunc(string(b), func(r rune) bool { return r == '\n' })
	}
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
