package providers

import (
	"context"
	"time"
)

// LogOptions says which of a container's log lines StreamLogs reads.
type LogOptions struct {
	// Follow keeps the stream open for new lines until the container stops (or ctx ends);
	// without it the stream ends after the lines written so far.
	Follow bool
	// Since skips the lines written before it (zero: from the first line). Podman 4.3
	// timestamps its lines to the second only: a caller resuming a stream must expect the
	// lines of Since's second again.
	Since time.Time
	// Tail reads only the last Tail lines (< 0: all of them; 0: none, only new ones with
	// Follow).
	Tail int
	// Until, without Follow, ends the stream at the lines written after it: the host's
	// time as the read begins (Host.Now). Lines are stamped to the second, so the stream
	// is cut at the first line stamped two seconds after Until's second. A container that
	// writes faster than its log is read would otherwise keep the reader from ever
	// reaching the end. Zero: to the end.
	Until time.Time
}

// LogLine is one line a container wrote, without its newline.
type LogLine struct {
	// Time is when the host's log recorded it, to the precision the host gives (one second
	// on Podman 4.3).
	Time   time.Time
	Stream string // "stdout" or "stderr"
	Text   string
}

// LogStreamer reads a container's log lines with their timestamps. It is its own small
// interface beside Runtime (whose Logs and FollowLogs give bare lines for failure reports
// and deck task run) so that deck logs can resume a stream where it broke.
type LogStreamer interface {
	// StreamLogs calls line for each line of the container's stdout and stderr that opts
	// select, in the order of the host's log, and returns when they are read (with
	// opts.Follow: when the container stops, the connection breaks, or ctx ends). A
	// stream that ends because the host went away may end without an error: the caller
	// inspects the container to tell. A missing container is ErrNotFound.
	StreamLogs(ctx context.Context, containerID string, opts LogOptions, line func(LogLine)) error
}
