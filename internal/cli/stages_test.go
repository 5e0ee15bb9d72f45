package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"dmlrun/stage"
)

// Test-only stages with the shape of the real ones: dataset writes data.txt, train (resumable,
// exclusive) writes model.txt from it, evaluate (one node per model) writes metrics.json.
// Each run appends its address to runLog so tests can count computations.
var (
	runMu  sync.Mutex
	runLog []string
)

func logRun(addr string) {
	runMu.Lock()
	runLog = append(runLog, addr)
	runMu.Unlock()
}

// takeRuns returns and clears the run log.
func takeRuns() []string {
	runMu.Lock()
	defer runMu.Unlock()
	out := runLog
	runLog = nil
	return out
}

// testStages is the registry of the in-process dmlrun the tests run: these stages and
// keyinputs_test.go's source.
var testStages = func() *stage.Registry {
	r, err := stage.NewRegistry(append(shapeDefs(), sourceDef())...)
	if err != nil {
		panic(err) // a test stage is declared wrong
	}
	return r
}()

func shapeDefs() []*stage.Def {
	return []*stage.Def{{Kind: "dataset", Version: 1,
		Params: []stage.Param{
			{Name: "kind", Type: stage.String, Required: true, Enum: []string{"synthetic"}},
			{Name: "n", Type: stage.Int, Default: int64(4)},
		},
		Run: func(c *stage.Context) error {
			logRun(c.Addr)
			fmt.Fprintf(c.Log, "writing %d items\n", c.Params.Int("n"))
			return os.WriteFile(filepath.Join(c.OutDir, "data.txt"), []byte(strings.Repeat("x", int(c.Params.Int("n")))), 0o644)
		}}, {Kind: "train", Version: 1, Resumable: true, Exclusive: true,
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
			if marker := os.Getenv("DMLRUN_CLI_STARTED"); marker != "" && c.Params.Int("seed") == 0 {
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
		}}, {Kind: "evaluate", Version: 1, ExpandOver: "models",
		Params: []stage.Param{
			{Name: "models", Type: stage.RefList, RefKind: "train", Required: true},
		},
		Run: func(c *stage.Context) error {
			logRun(c.Addr)
			m := c.InputsOf("models")[0]
			return os.WriteFile(filepath.Join(c.OutDir, "metrics.json"), []byte(fmt.Sprintf(`{"model": %q}`, m.Addr)), 0o644)
		}}}
}
