package fake

import (
	"context"
	"fmt"
	"strings"

	"github.com/deckhq/deck/providers"
)

// ExecFunc stands for the command run in a fake container: it reads and writes req's
// streams and returns the command's exit code.
type ExecFunc func(spec providers.TaskSpec, req providers.ExecRequest) int

// Exec runs req in a running container through h.Command. A fake container has no
// programs: without h.Command every command is not found (exit code 127, as Podman answers).
func (h *Host) Exec(ctx context.Context, id string, req providers.ExecRequest) (int, error) {
	op := "running a command in container " + id
	if err := h.check(op); err != nil {
		return -1, err
	}
	h.mu.Lock()
	t, spec, run := h.containers[id], h.specs[id], h.Command
	h.Calls = append(h.Calls, "exec "+id+" "+strings.Join(req.Command, " "))
	h.mu.Unlock()
	if t == nil {
		return -1, &providers.HostError{Host: h.spec.Name, URL: h.spec.URL, Op: op, Err: fmt.Errorf("container %s: %w", id, providers.ErrNotFound)}
	}
	if !t.Running() {
		return -1, &providers.HostError{Host: h.spec.Name, URL: h.spec.URL, Op: op,
			Err: fmt.Errorf("container %s is not running (state %s)", id, t.State)}
	}
	if err := ctx.Err(); err != nil {
		return -1, err
	}
	if run == nil {
		if req.Stderr != nil && len(req.Command) > 0 {
			fmt.Fprintf(req.Stderr, "%s: executable file not found in $PATH\n", req.Command[0])
		}
		return 127, nil
	}
	return run(spec, req), nil
}
