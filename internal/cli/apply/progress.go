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

// progress implements stage.Progress for one node: a pb bar on a terminal, plain lines
// ("train.nir[seed=0] epoch 3/10 loss 0.4312") otherwise. Only one terminal bar is drawn at
// a time (two bars would overwrite each other's line); a bar started while another is on
// screen falls back to plain lines.
type progress struct {
	ios    *iostreams.IOStreams
	w      io.Writer // ErrOut behind the lock every writer of this apply shares
	addr   string
	shared *barSlot
	every  time.Duration
	now    func() time.Time
}

type barSlot struct {
	mu   sync.Mutex
	busy bool
}

func (p *progress) Start(label string, total int64) stage.Bar {
	if p.ios.IsStderrTTY() {
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
	return &lineBar{p: p, label: label, total: total, last: p.now(), printed: -1}
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
	p       *progress
	label   string
	total   int64
	mu      sync.Mutex
	cur     int64
	status  string
	last    time.Time
	printed int64 // the count last printed (-1: none)
	done    bool
}

func (b *lineBar) Add(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cur += n
	if now := b.p.now(); b.cur >= b.total || now.Sub(b.last) >= b.p.every {
		b.print(now)
	}
}

func (b *lineBar) SetStatus(s string) {
	b.mu.Lock()
	b.status = s
	b.mu.Unlock()
}

func (b *lineBar) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.done && b.printed != b.cur {
		b.print(b.p.now())
	}
	b.done = true
}

func (b *lineBar) print(now time.Time) {
	b.last, b.printed = now, b.cur
	line := fmt.Sprintf("%s %s %d/%d", b.p.addr, b.label, b.cur, b.total)
	if b.status != "" {
		line += " " + b.status
	}
	fmt.Fprintln(b.p.w, line)
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
