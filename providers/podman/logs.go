package podman

import (
	"context"
	"strconv"
	"strings"

	"github.com/containers/podman/v5/pkg/bindings/containers"
)

// Logs returns the last tail lines the container wrote to stdout and stderr, merged, oldest
// first (tail <= 0: all of them). It works for a container in any state, also one that
// exited or never started (then there are none).
//
// The order is the order of the host's log file: conmon reads the two pipes in turns, so
// lines written to stdout and stderr within the same instant may come grouped by stream
// (seen on 4.3: a burst on both streams was logged stdout first). On 4.3, tail counts a
// trailing partial line (no newline at exit) as part of the line before it.
func (h *Host) Logs(ctx context.Context, containerID string, tail int) ([]string, error) {
	cctx := h.call(ctx)
	opts := new(containers.LogOptions).WithStdout(true).WithStderr(true).WithFollow(false)
	if tail > 0 {
		opts = opts.WithTail(strconv.Itoa(tail))
	} else {
		opts = opts.WithTail("all")
	}
	// The bindings send each frame on the channel of its stream and wait until it is taken:
	// one reader of both channels therefore sees the frames in the server's order.
	stdout, stderr := make(chan string), make(chan string)
	done := make(chan error, 1)
	go func() { done <- containers.Logs(cctx, containerID, opts, stdout, stderr) }()
	var lines logLines
	for {
		select {
		case frame := <-stdout:
			lines.add(0, frame)
		case frame := <-stderr:
			lines.add(1, frame)
		case err := <-done:
			if err != nil {
				return nil, h.wrap(cctx, "reading the logs of container "+shortID(containerID), err)
			}
			return lines.last(tail), nil
		}
	}
}

// logLines assembles frames into lines. A frame is normally one line with its newline;
// a line longer than conmon's buffer, or the last one without a newline, comes in parts,
// which are joined per stream.
type logLines struct {
	out     []string
	partial [2]strings.Builder
	// emit, when set, is given each line as it is complete instead of keeping it.
	emit func(string)
}

func (l *logLines) push(line string) {
	if l.emit != nil {
		l.emit(line)
		return
	}
	l.out = append(l.out, line)
}

func (l *logLines) add(stream int, frame string) {
	p := &l.partial[stream]
	for frame != "" {
		i := strings.IndexByte(frame, '\n')
		if i < 0 {
			p.WriteString(frame)
			return
		}
		p.WriteString(frame[:i])
		l.push(p.String())
		p.Reset()
		frame = frame[i+1:]
	}
}

// last ends any unfinished lines and returns the last n lines (all when n <= 0).
func (l *logLines) last(n int) []string {
	for i := range l.partial {
		if l.partial[i].Len() > 0 {
			l.push(l.partial[i].String())
			l.partial[i].Reset()
		}
	}
	if n > 0 && len(l.out) > n {
		return l.out[len(l.out)-n:]
	}
	return l.out
}

// FollowLogs calls line for each line the container writes, stdout and stderr merged, from
// its start until it stops (the server ends a follow when the container exits) or ctx
// ends. A container that stopped already gives its whole output and returns.
func (h *Host) FollowLogs(ctx context.Context, containerID string, line func(string)) error {
	cctx := h.call(ctx)
	opts := new(containers.LogOptions).WithStdout(true).WithStderr(true).WithFollow(true).WithTail("all")
	stdout, stderr := make(chan string), make(chan string)
	done := make(chan error, 1)
	go func() { done <- containers.Logs(cctx, containerID, opts, stdout, stderr) }()
	lines := logLines{emit: line}
	// Read until the bindings return, also once ctx is cancelled: they block on sending
	// a frame that nobody takes.
	for {
		select {
		case frame := <-stdout:
			lines.add(0, frame)
		case frame := <-stderr:
			lines.add(1, frame)
		case err := <-done:
			lines.last(0)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return h.wrap(cctx, "following the logs of container "+shortID(containerID), err)
		}
	}
}
