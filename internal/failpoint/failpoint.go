// Package failpoint injects faults at named points of dmlrun, so that crash and error
// handling can be tested deterministically instead of by racing a process with sleeps.
//
// Points are compiled into the binary and inert unless the environment variable
// DMLRUN_FAILPOINT names them:
//
//	DMLRUN_FAILPOINT=POINT[:N]=ACTION[,POINT[:N]=ACTION...]
//
// POINT is one of the names in Points; N (default 1) says on which hit of the point in this
// process the action happens (each point fires once); ACTION is
//
//	kill   SIGKILL this process on the spot (a crash: no deferred function runs)
//	exit   exit at once with status 86 without running deferred functions
//	error  Inject returns an *Error, which the caller handles like any failure
//	panic  Inject panics with an *Error (tests the recovery of stage panics)
//	stop   SIGSTOP this process: it waits, like a process a scheduler suspended, until it
//	       gets SIGCONT, and then goes on (a test can act on it at a known point, e.g.
//	       send it a signal that it handles once it continues)
//
// Example: DMLRUN_FAILPOINT=train.epoch-end:2=kill kills an apply right after the second
// epoch checkpoint of its first training node.
//
// What it is not: a general mocking tool. A point is one call, failpoint.Inject(name),
// at a place where a real crash or I/O error can happen; the package knows no other
// package.
package failpoint

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// EnvVar is the environment variable that arms fault points.
const EnvVar = "DMLRUN_FAILPOINT"

// ExitCode is the exit status of the "exit" action.
const ExitCode = 86

// Points lists every fault point in dmlrun with where it sits. Inject panics on a name that
// is not here (a programmer error), and Check rejects a DMLRUN_FAILPOINT that names one
// that is not, so a typo cannot make a crash test pass without crashing anything.
var Points = map[string]string{
	"load.shard":            "load: after one image shard of the prepared dataset is written",
	"train.step":            "train: after an optimiser step, mid-epoch",
	"train.epoch-end":       "train: right after an epoch checkpoint (epoch-N.safetensors) is written",
	"train.final":           "train: after the final checkpoint and model.json are written, before the commit",
	"embed.batch":           "embed: after one batch of embeddings is computed",
	"evaluate.metrics":      "evaluate: after the metrics are computed, before metrics.json is written",
	"report.write":          "report: after the tables are written, before the plots",
	"store.lock":            "store: right after a key's lock is taken",
	"store.commit.hashed":   "store commit: every file hashed and fsynced, before manifest.json is written",
	"store.commit.manifest": "store commit: manifest.json written, before the directory is renamed into place",
	"store.commit.renamed":  "store commit: renamed into place, before it is made read-only",
	"store.index.temp":      "store index: the new index written to its temporary file, before the rename",
}

// Action is what an armed point does when it fires.
type Action string

const (
	Kill  Action = "kill"
	Exit  Action = "exit"
	Fail  Action = "error"
	Panic Action = "panic"
	Stop  Action = "stop"
)

// Error is what a point armed with "error" or "panic" produces.
type Error struct {
	Point string
	Hit   int
}

func (e *Error) Error() string {
	return fmt.Sprintf("fault injected at %s (hit %d, %s)", e.Point, e.Hit, EnvVar)
}

type arm struct {
	hit    int64 // fire on this hit
	action Action
	count  atomic.Int64
}

var (
	once    sync.Once
	armed   map[string]*arm
	specErr error
	active  atomic.Bool
)

func load() {
	armed, specErr = parse(os.Getenv(EnvVar))
	active.Store(len(armed) > 0)
}

// Check parses DMLRUN_FAILPOINT and returns what is wrong with it (nil when it is unset or
// valid). Commands call it before any work, so that a bad setting stops them at once.
func Check() error {
	once.Do(load)
	return specErr
}

// parse decodes a DMLRUN_FAILPOINT value.
func parse(spec string) (map[string]*arm, error) {
	out := map[string]*arm{}
	if strings.TrimSpace(spec) == "" {
		return out, nil
	}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		point, action, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("%s: %q is not POINT[:N]=ACTION", EnvVar, item)
		}
		hit := int64(1)
		if p, n, ok := strings.Cut(point, ":"); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			if err != nil || v < 1 {
				return nil, fmt.Errorf("%s: %q: the hit count must be a whole number >= 1", EnvVar, item)
			}
			point, hit = p, v
		}
		if _, known := Points[point]; !known {
			return nil, fmt.Errorf("%s: unknown point %q; the points are %s", EnvVar, point, strings.Join(Names(), ", "))
		}
		switch a := Action(action); a {
		case Kill, Exit, Fail, Panic, Stop:
			if _, dup := out[point]; dup {
				return nil, fmt.Errorf("%s: point %q armed twice", EnvVar, point)
			}
			out[point] = &arm{hit: hit, action: a}
		default:
			return nil, fmt.Errorf("%s: %q: unknown action %q (kill, exit, error, panic or stop)", EnvVar, item, action)
		}
	}
	return out, nil
}

// Names returns the fault points, sorted.
func Names() []string {
	names := make([]string, 0, len(Points))
	for n := range Points {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Inject marks that the program reached point name. Unless DMLRUN_FAILPOINT arms the point
// for this hit it returns nil at the cost of an atomic load. An armed point kills or exits
// the process, panics, or returns an *Error, as armed. A DMLRUN_FAILPOINT that does not
// parse arms nothing (Check reports it).
func Inject(name string) error {
	if _, known := Points[name]; !known {
		panic("failpoint: Inject of unlisted point " + strconv.Quote(name) + " (add it to failpoint.Points)")
	}
	once.Do(load)
	if !active.Load() {
		return nil
	}
	a := armed[name]
	if a == nil {
		return nil
	}
	n := a.count.Add(1)
	if n != a.hit {
		return nil
	}
	err := &Error{Point: name, Hit: int(n)}
	switch a.action {
	case Kill:
		fmt.Fprintf(os.Stderr, "dmlrun: %v: killing this process\n", err)
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is delivered before this returns; never resume the caller
	case Exit:
		fmt.Fprintf(os.Stderr, "dmlrun: %v: exiting\n", err)
		os.Exit(ExitCode)
	case Panic:
		panic(err)
	case Stop:
		fmt.Fprintf(os.Stderr, "dmlrun: %v: stopping this process (pid %d) until it gets SIGCONT\n", err, os.Getpid())
		_ = syscall.Kill(os.Getpid(), syscall.SIGSTOP)
		return nil // continued: go on as if the point were not armed
	}
	return err
}

// reset re-reads the environment; for this package's tests.
func reset() {
	once = sync.Once{}
	armed, specErr = nil, nil
	active.Store(false)
}
