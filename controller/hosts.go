package controller

import (
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/providers"
)

// errStreamDown is why a host whose event stream broke is unreachable.
var errStreamDown = errors.New("its event stream broke; deck dials it again when it answers")

// hostBook remembers, per host, the tasks it last listed and since when it has been
// unreachable: a host that stops answering keeps its tasks' places for the grace period
// (a restart of its Podman service, a short network cut), and only then are they placed
// elsewhere. It is memory only: a controller that starts while a host is down gives it a
// whole grace period, knowing nothing of its tasks (planner.Options.GraceUnknown).
type hostBook struct {
	grace time.Duration
	now   func() time.Time
	mu    sync.Mutex
	hosts map[string]*hostSeen
}

type hostSeen struct {
	tasks     []providers.Task
	known     bool
	downSince time.Time // zero while reachable
	// streamDown is set while its event stream is broken (the watcher said so), cleared
	// when it is back: the session does not dial it meanwhile.
	streamDown bool
}

func newHostBook(grace time.Duration, now func() time.Time) *hostBook {
	return &hostBook{grace: grace, now: now, hosts: map[string]*hostSeen{}}
}

func (b *hostBook) get(name string) *hostSeen {
	h := b.hosts[name]
	if h == nil {
		h = &hostSeen{}
		b.hosts[name] = h
	}
	return h
}

// down notes that a host's event stream broke: it has been unreachable since it last
// answered (since now when that is not known). The grace period counts from then: the
// seconds the watcher spent waiting for a ping's answer are part of it.
func (b *hostBook) down(name string, lastAnswer time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	h := b.get(name)
	h.streamDown = true
	if h.downSince.IsZero() {
		h.downSince = b.now()
	}
	// A read may have found the host unreachable first (amend: down since that read);
	// the watcher knows it went silent earlier.
	if !lastAnswer.IsZero() && lastAnswer.Before(h.downSince) {
		h.downSince = lastAnswer
	}
}

// up notes that a host's event stream is back, and reports whether the host had been
// seen down (a watcher's first connection is no return).
func (b *hostBook) up(name string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	h := b.get(name)
	was := h.streamDown || !h.downSince.IsZero()
	h.streamDown = false
	return was
}

// dialable says whether the session should dial the host again.
func (b *hostBook) dialable(name string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.get(name).streamDown
}

// streamDownHosts are the hosts whose event streams are broken.
func (b *hostBook) streamDownHosts() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for name, h := range b.hosts {
		if h.streamDown {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// amend is called after every read: it records what reachable hosts run, puts back the
// last-seen tasks of those that stopped answering, and names the hosts still in grace.
func (b *hostBook) amend(s *pipeline.Session) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	s.Grace, s.GraceUnknown = nil, false
	for i := range s.Obs.Hosts {
		ho := &s.Obs.Hosts[i]
		h := b.get(ho.Spec.Name)
		if ho.Reachable {
			// Kept, not copied: every listing makes a new slice (providers.ListTasks) and
			// nothing changes a listed one in place, so this one stays as it was read.
			// It is copied on the way out, below, where the session may change it.
			h.tasks, h.known, h.downSince = ho.Tasks, true, time.Time{}
			continue
		}
		if h.downSince.IsZero() {
			h.downSince = now
		}
		if h.known {
			ho.Tasks = slices.Clone(h.tasks)
		}
		if now.Sub(h.downSince) < b.grace {
			s.Grace = append(s.Grace, ho.Spec.Name)
			s.GraceUnknown = s.GraceUnknown || !h.known
		}
	}
}

// graceEnds is when the next host's grace period ends (zero when none is running).
func (b *hostBook) graceEnds() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	var next time.Time
	for _, h := range b.hosts {
		if h.downSince.IsZero() {
			continue
		}
		end := h.downSince.Add(b.grace)
		if end.After(now) && (next.IsZero() || end.Before(next)) {
			next = end
		}
	}
	return next
}
