package apply

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"dmlrun/pipeline"
	"dmlrun/pipeline/slurm"
)

// isolator runs apply -j N's libtorch nodes (pipeline.Executor.Isolate) each as a
// `dmlrun run-node --local` process of the same dmlrun against the same store, so that N of
// them train side by side with their share of the cores. The job files live in a folder of
// their own under the system's temp folder, removed when the apply ends.
type isolator struct {
	exe      string    // the dmlrun to run
	storeDir string    // its --store
	dir      string    // where the job files are written
	verbose  bool      // pass -v: echo the stages' logs
	out      io.Writer // the apply's stderr, shared by every node (whole lines only)
}

func newIsolator(exe, storeDir string, verbose bool, out io.Writer) (*isolator, error) {
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("-j: find this dmlrun to run its libtorch nodes: %w", err)
		}
	}
	dir, err := os.MkdirTemp("", "dmlrun-apply-")
	if err != nil {
		return nil, fmt.Errorf("-j: folder for the node processes' job files: %w", err)
	}
	return &isolator{exe: exe, storeDir: storeDir, dir: dir, verbose: verbose, out: out}, nil
}

func (s *isolator) close() error { return os.RemoveAll(s.dir) }

// run is the pipeline.IsolateFunc: it writes the job, runs run-node on it and waits. A
// cancelled ctx sends the process SIGTERM, which stops a training at a step boundary with
// its checkpoint kept (run-node's own handling); the process is never killed, so nothing it
// computed is lost. The error is the node's, as run-node wrote it into the outcome file.
func (s *isolator) run(ctx context.Context, j *pipeline.Job) error {
	b, err := pipeline.EncodeJob(j)
	if err != nil {
		return err
	}
	// A file of its own even for two nodes with one key (two blocks alike), which may
	// run at once: the second waits for the first's lock in its process.
	f, err := os.CreateTemp(s.dir, j.Key[:16]+"-*.json")
	if err != nil {
		return fmt.Errorf("write the job file: %w", err)
	}
	name := f.Name()
	defer os.Remove(name)
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write the job file %s: %w", name, err)
	}
	defer os.Remove(slurm.OutcomeFile(name))

	args := []string{"--store", s.storeDir, "run-node", "--local", name}
	if s.verbose {
		args = append(args, "--verbose")
	}
	cmd := exec.CommandContext(ctx, s.exe, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	lw := &lineWriter{w: s.out}
	cmd.Stdout, cmd.Stderr = lw, lw
	runErr := cmd.Run()
	lw.flush()
	if runErr == nil {
		return nil
	}
	if o := slurm.ReadOutcome(slurm.OutcomeFile(name)); o != nil && o.Error != "" {
		return errors.New(o.Error)
	}
	return fmt.Errorf("%s run-node: %w", s.exe, runErr)
}

// lineWriter passes what a node process prints on to the shared stderr in whole lines, so
// that the lines of processes running side by side do not interleave mid-line.
type lineWriter struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	if i := bytes.LastIndexByte(l.buf, '\n'); i >= 0 {
		if _, err := l.w.Write(l.buf[:i+1]); err != nil {
			return 0, err
		}
		l.buf = append(l.buf[:0], l.buf[i+1:]...)
	}
	return len(p), nil
}

// flush writes a last line that had no newline.
func (l *lineWriter) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.w.Write(append(l.buf, '\n'))
		l.buf = nil
	}
}
