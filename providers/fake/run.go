package fake

import (
	"context"
	"time"
)

// What a container does once it runs: the tests of standalone tasks and job runs end
// them by hand and follow their output.

// Finish makes a running container exit with code, now by the host's clock (the process
// ended by itself).
func (h *Host) Finish(containerID string, code int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t := h.containers[containerID]; t != nil && t.Running() {
		t.State, t.ExitCode, t.FinishedAt = "exited", code, h.now()
	}
}

// FollowLogs gives what Output says the container wrote, then waits until it stops.
func (h *Host) FollowLogs(ctx context.Context, id string, line func(string)) error {
	lines, err := h.Logs(ctx, id, 0)
	if err != nil {
		return err
	}
	for _, l := range lines {
		line(l)
	}
	for {
		t, err := h.Inspect(ctx, id)
		if err != nil || !t.Running() {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}
