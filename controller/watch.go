package controller

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/providers"
)

// Following a host's events. The Podman bindings end a stream without an error when the
// server goes away, and set no keepalives, so a host cut off silently leaves the stream
// open and quiet: the watcher pings the host (GET /_ping, through the same connection)
// every pingEvery and gives the host up when an answer takes longer than pingTimeout. It
// then says HostDown, dials again with a growing, jittered backoff, says HostUp once the
// stream is open again, and resumes from the newest event it delivered (less an overlap:
// Podman's processes stamp an event before they append it to the log), skipping the
// events of the overlap it delivered already, so nothing is missed or repeated.
const (
	pingEvery   = time.Second
	pingTimeout = 2 * time.Second
	dialTimeout = 5 * time.Second
	overlap     = 2 * time.Second
	minBackoff  = 200 * time.Millisecond
	maxBackoff  = 5 * time.Second
)

// WatchHosts is a Watch that follows hosts through d, for the app and environment.
func WatchHosts(d providers.Dialer, app, env string) Watch {
	return func(ctx context.Context, spec manifest.HostSpec, out chan<- Event) {
		w := &watcher{d: d, spec: spec, app: app, env: env, out: out, seen: map[string]time.Time{}}
		w.run(ctx)
	}
}

type watcher struct {
	d        providers.Dialer
	spec     manifest.HostSpec
	app, env string
	out      chan<- Event
	mark     time.Time            // by the host's clock: every event after it was delivered
	seen     map[string]time.Time // events delivered within the overlap, by key
	down     bool
	// answered is when the host last answered (by this machine's clock), for HostDown.
	answered atomic.Int64
}

func (w *watcher) heard() { w.answered.Store(time.Now().UnixNano()) }

func (w *watcher) lastAnswer() time.Time {
	if n := w.answered.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

func (w *watcher) run(ctx context.Context) {
	for attempt := 0; ctx.Err() == nil; attempt++ {
		opened := time.Now()
		if w.follow(ctx) && time.Since(opened) > maxBackoff {
			attempt = 0 // the stream was open a while: redial at once, then back off again
		}
		if ctx.Err() != nil {
			return
		}
		if !w.down {
			w.down = true
			w.send(ctx, Event{Host: w.spec.Name, Action: HostDown, LastAnswer: w.lastAnswer()})
		}
		if attempt > 0 && !pipeline.Pause(ctx, redialDelay(attempt-1)) {
			return
		}
	}
}

// follow connects, streams until the stream breaks or the host stops answering, and
// reports whether it got as far as an open stream.
func (w *watcher) follow(ctx context.Context) bool {
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	h, err := w.d.Dial(dctx, w.spec)
	cancel()
	if err != nil {
		return false
	}
	defer h.Close()
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	nctx, ncancel := context.WithTimeout(sctx, pingTimeout)
	now, err := h.Now(nctx)
	ncancel()
	if err != nil {
		return false
	}
	w.heard()
	since := time.Time{}
	if !w.mark.IsZero() {
		since = w.mark.Add(-overlap)
	}
	events, _, err := h.Events(sctx, w.app, w.env, since)
	if err != nil {
		return false
	}
	if w.mark.IsZero() {
		w.mark = now
	}
	if w.down || since.IsZero() {
		w.down = false
		w.send(ctx, Event{Host: w.spec.Name, Action: HostUp})
	}
	go w.ping(sctx, stop, h)
	for e := range events {
		w.deliver(ctx, e)
	}
	return true
}

// ping gives the host up (stop) when it does not answer within pingTimeout.
func (w *watcher) ping(ctx context.Context, stop func(), h providers.Host) {
	t := time.NewTicker(pingEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, pingTimeout)
		_, err := h.Now(pctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			stop()
			return
		}
		if err == nil {
			w.heard()
		}
	}
}

func (w *watcher) deliver(ctx context.Context, e providers.Event) {
	w.heard()
	key := e.Time.Format(time.RFC3339Nano) + " " + e.ContainerID + " " + e.Action
	if _, dup := w.seen[key]; dup {
		return
	}
	w.seen[key] = e.Time
	if e.Time.After(w.mark) {
		w.mark = e.Time
	}
	for k, at := range w.seen {
		if at.Before(w.mark.Add(-2 * overlap)) {
			delete(w.seen, k)
		}
	}
	w.send(ctx, Event{Host: w.spec.Name, Action: e.Action, Service: e.Service, ContainerID: e.ContainerID, ExitCode: e.ExitCode,
		Kind: e.Labels[providers.LabelKind]})
}

func (w *watcher) send(ctx context.Context, e Event) {
	select {
	case w.out <- e:
	case <-ctx.Done():
	}
}

func redialDelay(attempt int) time.Duration {
	d := maxBackoff
	if attempt < 10 && minBackoff<<attempt < maxBackoff {
		d = minBackoff << attempt
	}
	return d/2 + rand.N(d/2)
}
