package fake

import (
	"context"
	"fmt"
	"time"

	"github.com/deckhq/deck/providers"
)

// A container's timestamped log, as Podman 4.3 keeps and serves it: each line stamped to
// the second by the host's clock, Since taking the lines of its own second again, and a
// follow that ends when the container stops or the host goes down (SetDown).

// WriteLog makes the container write lines on stream ("stdout" or "stderr") now, by the
// host's clock truncated to the second (Podman 4.3's precision). Followers see them at once.
func (h *Host) WriteLog(containerID, stream string, lines ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.written == nil {
		h.written = map[string][]providers.LogLine{}
	}
	at := h.now().Truncate(time.Second)
	for _, l := range lines {
		h.written[containerID] = append(h.written[containerID], providers.LogLine{Time: at, Stream: stream, Text: l})
	}
	h.notify()
}

// logOf is the container's whole log: what Output says it wrote (at its start), then what
// WriteLog added. h.mu is held.
func (h *Host) logOf(id string) []providers.LogLine {
	var out []providers.LogLine
	if h.Output != nil {
		at := h.containers[id].StartedAt.Truncate(time.Second)
		for _, l := range h.Output(h.specs[id]) {
			out = append(out, providers.LogLine{Time: at, Stream: "stdout", Text: l})
		}
	}
	return append(out, h.written[id]...)
}

// StreamLogs reads the container's log (providers.LogStreamer).
func (h *Host) StreamLogs(ctx context.Context, id string, opts providers.LogOptions, line func(providers.LogLine)) error {
	op := "reading the logs of container " + id
	if err := h.check(op); err != nil {
		return err
	}
	h.mu.Lock()
	if h.containers[id] == nil {
		h.mu.Unlock()
		return &providers.HostError{Host: h.spec.Name, URL: h.spec.URL, Op: op, Err: fmt.Errorf("container %s: %w", id, providers.ErrNotFound)}
	}
	all := h.logOf(id)
	breaks := h.log.breaks
	h.mu.Unlock()
	start := 0
	for start < len(all) && !opts.Since.IsZero() && all[start].Time.Before(opts.Since.Truncate(time.Second)) {
		start++
	}
	if opts.Tail >= 0 && len(all)-start > opts.Tail && !h.IgnoresTail {
		start = len(all) - opts.Tail
	}
	next := len(all)
	for _, l := range all[start:] {
		if !opts.Follow && !opts.Until.IsZero() && l.Time.After(opts.Until) {
			return nil
		}
		line(l)
	}
	for opts.Follow {
		h.mu.Lock()
		t, changed := h.containers[id], h.log.changed
		running := t != nil && t.Running()
		if changed == nil {
			h.log.changed = make(chan struct{})
			changed = h.log.changed
		}
		down := h.log.breaks != breaks
		all = h.logOf(id)
		h.mu.Unlock()
		for ; next < len(all); next++ {
			line(all[next])
		}
		switch {
		case down:
			return nil // as a real server that went away: the stream just ends
		case !running:
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		case <-time.After(20 * time.Millisecond): // state changes that notify nobody (SetState)
		}
	}
	return nil
}
