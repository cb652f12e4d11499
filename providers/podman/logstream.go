package podman

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"

	"github.com/deckhq/deck/providers"
)

// StreamLogs reads the container's log lines with their timestamps (providers.LogStreamer).
//
// Each frame the server sends is one log entry: its timestamp, a space, the text, and a
// newline unless the entry is part of a longer line (conmon splits lines longer than its
// buffer), whose parts are joined here and carry the first part's time. Podman 4.3 gives
// the time in RFC 3339 to the second; later servers give nanoseconds. A server that goes
// away mid-stream ends it without an error (the bindings see EOF).
func (h *Host) StreamLogs(ctx context.Context, containerID string, opts providers.LogOptions, line func(providers.LogLine)) error {
	var past atomic.Bool // a line stamped after the read began came: the stream is cut
	if !opts.Follow && !opts.Until.IsZero() {
		// Podman 4.3 reads a log to its very end, and a log that grows faster than it is
		// read has none; its own until filters after tail, so a tail would lose the lines
		// written meanwhile. So the stream is cut here (providers.LogOptions.Until).
		var cut context.CancelFunc
		ctx, cut = context.WithCancel(ctx)
		defer cut()
		limit := opts.Until.Truncate(time.Second).Add(2 * time.Second)
		inner := line
		line = func(l providers.LogLine) {
			if past.Load() || !l.Time.Before(limit) {
				if past.CompareAndSwap(false, true) {
					cut()
				}
				return
			}
			inner(l)
		}
	}
	cctx := h.call(ctx)
	lo := new(containers.LogOptions).WithStdout(true).WithStderr(true).WithTimestamps(true).WithFollow(opts.Follow)
	if opts.Tail >= 0 {
		lo = lo.WithTail(strconv.Itoa(opts.Tail))
	} else {
		lo = lo.WithTail("all")
	}
	if !opts.Since.IsZero() {
		lo = lo.WithSince(opts.Since.UTC().Format(time.RFC3339Nano))
	}
	stdout, stderr := make(chan string), make(chan string)
	done := make(chan error, 1)
	go func() { done <- containers.Logs(cctx, containerID, lo, stdout, stderr) }()
	var parts [2]stampedParts
	// Read until the bindings return, also once ctx is cancelled: they block on sending a
	// frame that nobody takes.
	for {
		select {
		case frame := <-stdout:
			parts[0].add(frame, "stdout", line)
		case frame := <-stderr:
			parts[1].add(frame, "stderr", line)
		case err := <-done:
			parts[0].flush("stdout", line)
			parts[1].flush("stderr", line)
			if past.Load() {
				return nil // cut at the lines written after the read began, as asked
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err == nil {
				return nil
			}
			return h.wrap(cctx, "reading the logs of container "+shortID(containerID), err)
		}
	}
}

// stampedParts joins the parts of one stream's long lines.
type stampedParts struct {
	text    strings.Builder
	at      time.Time
	pending bool
}

func (p *stampedParts) add(frame, stream string, line func(providers.LogLine)) {
	at, text := splitStamp(frame)
	if !p.pending {
		p.at = at
	}
	for {
		i := strings.IndexByte(text, '\n')
		if i < 0 {
			if text != "" {
				p.text.WriteString(text)
				p.pending = true
			}
			return
		}
		p.text.WriteString(text[:i])
		line(providers.LogLine{Time: p.at, Stream: stream, Text: p.text.String()})
		p.text.Reset()
		p.pending, p.at = false, at
		text = text[i+1:]
	}
}

// flush ends an unfinished last line (a process that exited without a newline).
func (p *stampedParts) flush(stream string, line func(providers.LogLine)) {
	if p.pending {
		line(providers.LogLine{Time: p.at, Stream: stream, Text: p.text.String()})
		p.text.Reset()
		p.pending = false
	}
}

// splitStamp takes the timestamp off the front of a frame; a frame without one keeps its
// text whole, with a zero time.
func splitStamp(frame string) (time.Time, string) {
	stamp, rest, ok := strings.Cut(frame, " ")
	if !ok {
		stamp, rest = strings.TrimSuffix(frame, "\n"), ""
		if strings.HasSuffix(frame, "\n") {
			rest = "\n"
		}
	}
	t, err := time.Parse(time.RFC3339Nano, stamp)
	if err != nil {
		return time.Time{}, frame
	}
	return t, rest
}
