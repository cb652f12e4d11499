package pipeline

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// merger puts the lines of many tasks' streams (sources) into one stream in time order.
//
// A source reads its task's log first as a backlog (what was written before deck logs
// asked) and then, when following, live. A backlog is merged exactly: no line is given out
// while a source still reading its backlog has nothing buffered, since its next line may be
// older. Live lines come as the hosts send them, so a line is held back for hold after it
// arrived (unless every source has a line buffered): a line from a host that answers a
// little later, but written earlier, still comes out first. Each source's own order is
// kept even when its host's clock steps back (its lines sort by the latest time seen).
type merger struct {
	mu      sync.Mutex
	lines   lineHeap
	sources map[int]*source
	closed  bool // no more sources will be added
	hold    time.Duration
	seq     uint64
	wake    chan struct{}
}

type source struct {
	buffered int
	backlog  bool
	last     time.Time
}

type queued struct {
	key     time.Time // the line's time, never before its source's earlier lines
	seq     uint64    // arrival order: equal times keep it
	arrived time.Time
	src     int
	line    TaskLine
}

func newMerger(hold time.Duration) *merger {
	return &merger{sources: map[int]*source{}, hold: hold, wake: make(chan struct{}, 1)}
}

func (m *merger) signal() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// add opens a source, reading its backlog.
func (m *merger) add(src int) {
	m.mu.Lock()
	m.sources[src] = &source{backlog: true}
	m.mu.Unlock()
}

// push queues a line of src.
func (m *merger) push(src int, l TaskLine) {
	m.mu.Lock()
	s := m.sources[src]
	key := l.Time
	if key.Before(s.last) {
		key = s.last
	}
	s.last = key
	s.buffered++
	m.seq++
	heap.Push(&m.lines, queued{key: key, seq: m.seq, arrived: time.Now(), src: src, line: l})
	m.mu.Unlock()
	m.signal()
}

// live marks src's backlog as read: its later lines are held back instead.
func (m *merger) live(src int) {
	m.mu.Lock()
	m.sources[src].backlog = false
	m.mu.Unlock()
	m.signal()
}

// done closes src: it adds no more lines.
func (m *merger) done(src int) {
	m.mu.Lock()
	delete(m.sources, src)
	m.mu.Unlock()
	m.signal()
}

// close says no more sources come: once those open are done, run returns.
func (m *merger) close() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.signal()
}

// next returns the line to give out now, if any, and else how long until the head of the
// queue may go (0: until something changes), and whether everything is given out.
func (m *merger) next(now time.Time) (l TaskLine, ok bool, wait time.Duration, finished bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.lines) == 0 {
		return l, false, 0, m.closed && len(m.sources) == 0
	}
	allBuffered := true
	for _, s := range m.sources {
		if s.buffered == 0 {
			if s.backlog {
				return l, false, 0, false
			}
			allBuffered = false
		}
	}
	head := m.lines[0]
	if !allBuffered {
		if w := head.arrived.Add(m.hold).Sub(now); w > 0 {
			return l, false, w, false
		}
	}
	heap.Pop(&m.lines)
	if s := m.sources[head.src]; s != nil {
		s.buffered--
	}
	return head.line, true, 0, false
}

// run gives the lines out in order, from one goroutine, until every source is done after
// close, or ctx ends.
func (m *merger) run(ctx context.Context, emit func(TaskLine)) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		l, ok, wait, finished := m.next(time.Now())
		if ok {
			emit(l)
			continue
		}
		if finished {
			return
		}
		var tick <-chan time.Time
		if wait > 0 {
			timer.Reset(wait)
			tick = timer.C
		}
		select {
		case <-ctx.Done():
			return
		case <-m.wake:
		case <-tick:
		}
	}
}

type lineHeap []queued

func (h lineHeap) Len() int { return len(h) }
func (h lineHeap) Less(i, j int) bool {
	if !h[i].key.Equal(h[j].key) {
		return h[i].key.Before(h[j].key)
	}
	return h[i].seq < h[j].seq
}
func (h lineHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *lineHeap) Push(x any)   { *h = append(*h, x.(queued)) }
func (h *lineHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
