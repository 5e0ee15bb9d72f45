package apply

import (
	"fmt"
	"io"
	"sync"
	"time"

	"dmlrun/internal/iostreams"
	"dmlrun/stage"

	pb "github.com/cheggaaa/pb/v3"
)

// progress implements stage.Progress for one node: a pb bar on a terminal that can redraw
// a line (iostreams.ProgressBars), plain lines otherwise. Only one terminal bar is drawn at
// a time (two bars would overwrite each other's line); a bar started while another is on
// screen falls back to plain lines.
//
// Plain lines are for CI and batch logs: one summary line per loop when it ends (per epoch
// for train: "train.nir[seed=0] epoch 3/10 94/94 loss 0.4312 skipped 0 (41.2s)"), and, only
// for a loop still running after every, a line saying where it is ("... 40/94 loss 0.5012
// skipped 0 (10m0s so far)"), so a long epoch is not silent.
type progress struct {
	ios    *iostreams.IOStreams
	w      io.Writer // ErrOut behind the lock every writer of this apply shares
	addr   string
	shared *barSlot
	every  time.Duration // the longest a running loop stays silent in plain lines
	now    func() time.Time
}

type barSlot struct {
	mu   sync.Mutex
	busy bool
}

func (p *progress) Start(label string, total int64) stage.Bar {
	if p.ios.ProgressBars() {
		p.shared.mu.Lock()
		free := !p.shared.busy
		p.shared.busy = true
		p.shared.mu.Unlock()
		if free {
			tmpl := `{{string . "prefix"}} {{counters . }} {{bar . }} {{percent . }} {{etime . }} {{string . "status"}}`
			bar := pb.New64(total).SetTemplateString(tmpl).SetWriter(p.w).
				Set("prefix", p.addr+" "+label).SetMaxWidth(p.ios.TerminalWidth())
			bar.Start()
			return &termBar{bar: bar, slot: p.shared}
		}
	}
	now := p.now()
	return &lineBar{p: p, label: label, total: total, start: now, last: now}
}

type termBar struct {
	bar  *pb.ProgressBar
	slot *barSlot
	once sync.Once
}

func (b *termBar) Add(n int64)        { b.bar.Add64(n) }
func (b *termBar) SetStatus(s string) { b.bar.Set("status", s) }
func (b *termBar) Finish() {
	b.once.Do(func() {
		b.bar.Finish()
		b.slot.mu.Lock()
		b.slot.busy = false
		b.slot.mu.Unlock()
	})
}

type lineBar struct {
	p      *progress
	label  string
	total  int64
	start  time.Time
	mu     sync.Mutex
	cur    int64
	status string
	last   time.Time // when the last line was printed (start: none yet)
	done   bool      // the summary line is printed
}

// Add prints the summary when the loop reaches its total (the status set before this Add
// is the final one), or a progress line when the loop has been silent for every.
func (b *lineBar) Add(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cur += n
	switch now := b.p.now(); {
	case b.done:
	case b.cur >= b.total:
		b.summary(now)
	case b.p.every > 0 && now.Sub(b.last) >= b.p.every:
		b.last = now
		b.println(fmt.Sprintf("(%s so far)", elapsed(now.Sub(b.start))))
	}
}

func (b *lineBar) SetStatus(s string) {
	b.mu.Lock()
	b.status = s
	b.mu.Unlock()
}

// Finish prints the summary of a loop that ended before its total (interrupted, failed),
// once.
func (b *lineBar) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.done {
		b.summary(b.p.now())
	}
}

func (b *lineBar) summary(now time.Time) {
	b.done = true
	b.println(fmt.Sprintf("(%s)", elapsed(now.Sub(b.start))))
}

func (b *lineBar) println(tail string) {
	line := fmt.Sprintf("%s %s %d/%d", b.p.addr, b.label, b.cur, b.total)
	if b.status != "" {
		line += " " + b.status
	}
	fmt.Fprintln(b.p.w, line+" "+tail)
}

// elapsed renders a duration for a log line: tenths of a second under a minute ("0.4s",
// "41.2s"), whole seconds above ("12m5s").
func elapsed(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

// lockedWriter serialises writes from concurrent nodes (events, progress lines, logs).
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// prefixWriter prefixes each line written to it (stage logs echoed with --verbose).
type prefixWriter struct {
	w       io.Writer
	prefix  string
	midLine bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	var out []byte
	for _, c := range b {
		if !p.midLine {
			out = append(out, p.prefix...)
		}
		out = append(out, c)
		p.midLine = c != '\n'
	}
	if _, err := p.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}

// NodeProgress is the progress sink apply gives each node, for a process that runs one
// node of an apply (run-node --local): on its stderr, a pipe to the apply, it prints plain
// lines, which the apply passes on whole.
func NodeProgress(ios *iostreams.IOStreams, w io.Writer, addr string, now func() time.Time) stage.Progress {
	return &progress{ios: ios, w: w, addr: addr, shared: &barSlot{}, every: 10 * time.Minute, now: now}
}

// PrefixWriter prefixes each line written to it with prefix, as apply -v echoes stage logs.
func PrefixWriter(w io.Writer, prefix string) io.Writer { return &prefixWriter{w: w, prefix: prefix} }
