package podman

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/system"
	"github.com/containers/podman/v5/pkg/domain/entities/types"

	"github.com/deckhq/deck/providers"
)

// eventAttributes are the keys Podman adds to an event's Actor.Attributes beside the
// container's labels; they are not labels.
var eventAttributes = []string{"name", "image", "podId", "containerExitCode"}

// Events streams the events of deck's containers of app and env (see providers.Events).
//
// The bindings close their channel without an error when the server goes away (the
// service stopped, the ssh tunnel closed): a stream that ends while ctx is still live is
// reported as unreachable. A connection cut silently (no FIN, no RST) leaves the stream
// open and quiet until the ssh keepalive (ssh:// hosts) gives up; a caller that must
// notice sooner pings the host meanwhile (providers/watch does).
func (h *Host) Events(ctx context.Context, app, env string, since time.Time) (<-chan providers.Event, func() error, error) {
	const op = "following events"
	sctx, cancel := context.WithCancel(ctx)
	cctx := h.call(sctx)
	raw := make(chan types.Event)
	if err := system.Events(cctx, raw, nil, eventsOptions(app, env, since)); err != nil {
		cancel()
		return nil, nil, h.wrap(cctx, op, err)
	}
	out := make(chan providers.Event)
	s := &streamEnd{}
	go func() {
		defer close(out)
		defer cancel()
		for e := range raw {
			ev, ok := h.event(e, app, env)
			if !ok {
				continue
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				cancel()
				for range raw { // the bindings' reader blocks on a send until it sees the close
				}
				return
			}
		}
		if ctx.Err() == nil {
			s.set(h.fail(op, &unreachableError{why: h.streamEnded(), cause: errStreamEnded}))
		}
	}()
	return out, s.get, nil
}

var errStreamEnded = errors.New("event stream ended")

// streamEnded says why a stream ended on its own: the ssh connection's loss when that is
// known, else the server's end of the connection.
func (h *Host) streamEnded() string {
	if h.tunnel != nil {
		if lost := h.tunnel.lostReason(); lost != nil {
			return lost.Error()
		}
	}
	return "the event stream ended (the Podman service closed it)"
}

// eventsOptions filters on the server by type and by one label: filters of one key are
// ORed by Podman (libpod/events/filters.go), so only the most selective label is sent and
// the others are checked here (see event).
func eventsOptions(app, env string, since time.Time) *system.EventsOptions {
	label := providers.LabelManaged + "=true"
	switch {
	case app != "":
		label = providers.LabelApp + "=" + app
	case env != "":
		label = providers.LabelEnv + "=" + env
	}
	opts := new(system.EventsOptions).WithStream(true).
		WithFilters(map[string][]string{"type": {"container"}, "label": {label}})
	if !since.IsZero() {
		// RFC 3339 with nanoseconds: a unix timestamp would go through a float64 and lose them.
		opts.WithSince(since.UTC().Format(time.RFC3339Nano))
	}
	return opts
}

// event converts one of Podman's events; false when it is not about a deck container of
// app/env.
func (h *Host) event(e types.Event, app, env string) (providers.Event, bool) {
	attrs := e.Actor.Attributes
	labels := make(map[string]string, len(attrs))
	for k, v := range attrs {
		labels[k] = v
	}
	for _, k := range eventAttributes {
		delete(labels, k)
	}
	if string(e.Type) != "container" || !providers.Matches(labels, app, env) {
		return providers.Event{}, false
	}
	ev := providers.EventFromLabels(labels)
	ev.Host, ev.ContainerID, ev.Name = h.spec.Name, e.Actor.ID, attrs["name"]
	ev.Action = e.Status
	if ev.Action == "" {
		ev.Action = string(e.Action)
	}
	if ev.ContainerID == "" {
		ev.ContainerID = e.ID
	}
	ev.Time = time.Unix(0, e.TimeNano)
	if e.TimeNano == 0 {
		ev.Time = time.Unix(e.Time, 0)
	}
	if c, err := strconv.Atoi(attrs["containerExitCode"]); err == nil {
		ev.ExitCode = c
	}
	return ev, true
}

// streamEnd holds why a stream ended, set before its channel closes.
type streamEnd struct {
	mu  sync.Mutex
	err error
}

func (s *streamEnd) set(err error) { s.mu.Lock(); s.err = err; s.mu.Unlock() }
func (s *streamEnd) get() error    { s.mu.Lock(); defer s.mu.Unlock(); return s.err }
