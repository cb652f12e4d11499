package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/deckhq/deck/cmd/internal/iostreams"
	"github.com/deckhq/deck/executor"
)

// progress shows executor events: on a terminal, one live line per task, redrawn in place;
// elsewhere (CI), one plain timestamped line per event.
type progress struct {
	mu    sync.Mutex
	out   io.Writer
	live  bool
	c     iostreams.Colors
	order []string
	lines map[string]string
	drawn int
}

func newProgress(deps Deps) *progress {
	return &progress{out: deps.IO.ErrOut, live: deps.IO.IsStderrTTY(),
		c: iostreams.Colors{Enabled: deps.IO.ErrColorEnabled()}, lines: map[string]string{}}
}

// Event records one event; the executor calls it from many goroutines.
func (p *progress) Event(e executor.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.live {
		fmt.Fprintf(p.out, "%s  %s\n", e.Time.UTC().Format(time.RFC3339), e)
		return
	}
	key := e.Service + "/" + e.Host + "/" + e.TaskID
	if e.TaskID == "" {
		key = string(e.Kind) + "/" + e.Service + "/" + e.Host + "/" + e.Message
	}
	if _, ok := p.lines[key]; !ok {
		p.order = append(p.order, key)
	}
	p.lines[key] = p.render(e)
	p.redraw()
}

func (p *progress) render(e executor.Event) string {
	what := string(e.Kind)
	switch e.Kind {
	case executor.EventTaskHealthy, executor.EventTaskStopped, executor.EventServiceDone:
		what = p.c.Green(what)
	case executor.EventTaskFailed, executor.EventServiceFailed, executor.EventTaskLeft:
		what = p.c.Red(what)
	default:
		what = p.c.Yellow(what)
	}
	parts := []string{what}
	for _, s := range []string{e.Service, e.Host, e.TaskID, e.Message} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return "  " + strings.Join(parts, "  ")
}

func (p *progress) redraw() {
	if p.drawn > 0 {
		fmt.Fprintf(p.out, "\x1b[%dA", p.drawn)
	}
	for _, k := range p.order {
		fmt.Fprintf(p.out, "\x1b[2K%s\n", p.lines[k])
	}
	p.drawn = len(p.order)
}
