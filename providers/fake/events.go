package fake

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/deckhq/deck/providers"
)

// The fake's event stream: each host logs what happens to its containers (create, start,
// died, stop, remove, oom) as Podman 4.3 does, and Events follows the log. The log keeps
// the last maxEvents events; a follower further behind than that misses the oldest, as a
// real host that rotated its log would lose them.

const maxEvents = 1 << 14

// eventLog is a host's event log; the host's mu guards it.
type eventLog struct {
	events  []logged
	dropped int           // events trimmed from the front since the host began
	last    time.Time     // the newest event's time: times strictly increase
	changed chan struct{} // closed (and replaced) at each event, SetDown and SetSilent
	breaks  int           // SetDown(true) calls: streams opened before one end with an error
	cuts    int           // SetSilent(true) calls: streams opened before one go quiet
}

// logged is one event as the log keeps it: what the container's labels and the host
// say (service, revision, ...) is filled in when it is sent (event). A simulated host
// keeps its whole log in memory, 10,000s of events in a large simulation, so each keeps
// a third of a providers.Event.
type logged struct {
	time     time.Time
	action   string
	id, name string
	exitCode int
	labels   map[string]string // the container's, shared: never modified
}

// event is the providers.Event a logged event is sent as.
func (h *Host) event(l logged) providers.Event {
	ev := providers.EventFromLabels(l.labels)
	ev.Time, ev.Host, ev.Action = l.time, h.spec.Name, l.action
	ev.ContainerID, ev.Name, ev.ExitCode = l.id, l.name, l.exitCode
	return ev
}

// emit logs an event about t. h.mu is held.
func (h *Host) emit(action string, t *providers.Task, exitCode int) {
	now := h.now()
	if !now.After(h.log.last) {
		now = h.log.last.Add(time.Nanosecond) // one action, one instant, as with Podman's timeNano
	}
	h.log.last = now
	h.log.events = append(h.log.events, logged{time: now, action: action, id: t.ContainerID, name: t.Name,
		exitCode: exitCode, labels: t.Labels})
	if len(h.log.events) > maxEvents {
		n := len(h.log.events) / 2
		h.log.events = append([]logged(nil), h.log.events[n:]...)
		h.log.dropped += n
	}
	h.notify()
}

// notify wakes the followers. h.mu is held.
func (h *Host) notify() {
	if h.log.changed != nil {
		close(h.log.changed)
	}
	h.log.changed = make(chan struct{})
}

// SetSilent(true) cuts the host off without anyone noticing: calls fail as after
// SetDown(true), but the event streams already open neither end nor deliver anything more,
// as a real stream over a connection cut silently (no keepalive) just hangs. They stay
// quiet after SetSilent(false) too (their connection is gone); new ones work again.
func (h *Host) SetSilent(silent bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.down = silent
	if silent {
		h.log.cuts++
		h.notify()
	}
}

// Events follows the host's event log (see providers.Events). SetDown(true) ends the
// streams open at the time with an unreachable error.
func (h *Host) Events(ctx context.Context, app, env string, since time.Time) (<-chan providers.Event, func() error, error) {
	if err := h.check("following events"); err != nil {
		return nil, nil, err
	}
	h.mu.Lock()
	f := &follower{h: h, app: app, env: env, breaks: h.log.breaks, cuts: h.log.cuts,
		next: h.log.dropped + len(h.log.events)}
	if !since.IsZero() {
		f.next = h.log.dropped + sort.Search(len(h.log.events), func(i int) bool { return h.log.events[i].time.After(since) })
	}
	if h.log.changed == nil {
		h.log.changed = make(chan struct{})
	}
	h.mu.Unlock()
	out := make(chan providers.Event)
	go func() {
		defer close(out)
		f.run(ctx, out)
	}()
	return out, f.error, nil
}

// follower is one open stream.
type follower struct {
	h            *Host
	app, env     string
	breaks, cuts int
	next         int // the log position (counting dropped events) of the next event to send

	mu  sync.Mutex
	err error
}

func (f *follower) run(ctx context.Context, out chan<- providers.Event) {
	for {
		batch, wake, err := f.read()
		if err != nil {
			f.mu.Lock()
			f.err = err
			f.mu.Unlock()
			return
		}
		for _, l := range batch {
			if !providers.Matches(l.labels, f.app, f.env) {
				continue
			}
			select {
			case out <- f.h.event(l):
			case <-ctx.Done():
				return
			}
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return
		}
	}
}

// read returns the events logged since the last read and a channel closed at the next
// change; or the error that ends the stream. A silenced stream gets nothing, ever.
func (f *follower) read() ([]logged, <-chan struct{}, error) {
	h := f.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.log.cuts != f.cuts {
		return nil, make(chan struct{}), nil
	}
	if h.log.breaks != f.breaks {
		return nil, nil, &providers.HostError{Host: h.spec.Name, URL: h.spec.URL, Op: "following events",
			Err: fmt.Errorf("%w: the event stream ended (connection reset)", providers.ErrUnreachable)}
	}
	start := max(f.next-h.log.dropped, 0)
	batch := h.log.events[start:len(h.log.events):len(h.log.events)]
	f.next = h.log.dropped + len(h.log.events)
	return batch, h.log.changed, nil
}

func (f *follower) error() error { f.mu.Lock(); defer f.mu.Unlock(); return f.err }

// Die makes a running container exit with code, as a crash does ("died").
func (h *Host) Die(containerID string, code int) error {
	return h.exit(containerID, code, false)
}

// OOMKill makes a running container be killed for its memory: "oom", then "died" with
// exit code 137. (Podman 4.3.1 on cgroup v1 may miss the OOM: see providers.Task.OOMKilled.)
func (h *Host) OOMKill(containerID string) error {
	return h.exit(containerID, 137, true)
}

func (h *Host) exit(id string, code int, oom bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.containers[id]
	if t == nil {
		return fmt.Errorf("container %s: %w", id, providers.ErrNotFound)
	}
	if !t.Running() {
		return fmt.Errorf("container %s is %s, not running", id, t.State)
	}
	t.State, t.ExitCode, t.FinishedAt, t.OOMKilled = "exited", code, h.now(), oom
	if oom {
		h.emit("oom", t, 0)
	}
	h.emit("died", t, code)
	return nil
}
