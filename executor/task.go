package executor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/deckhq/deck/executor/failpoint"
	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner"
	"github.com/deckhq/deck/providers"
)

// startTask creates and starts the new task of a change and waits until it is healthy.
// On failure the new container is removed (after its stop reason and last log lines are
// kept in the error), so nothing is left behind. wait bounds only the wait for health: a
// create or start under way is never cut off half way (its container would be left).
func (a *applier) startTask(ctx, wait context.Context, c planner.Change) (NewTask, error) {
	rev, h, err := a.target(c)
	if err != nil {
		return NewTask{}, err
	}
	spec := TaskSpec(TaskInput{App: a.plan.App, Env: a.plan.Env, Host: c.Host, TaskID: c.TaskID, Rev: rev,
		Epoch: a.opts.Epoch, Desired: a.desired(c.Service), Replaces: replaces(c)})
	a.emit(Event{Kind: EventTaskCreating, Service: c.Service, Host: c.Host, TaskID: c.TaskID, Message: "revision " + rev.ID})
	release := a.acquire(c.Host)
	t, err := a.createAndStart(ctx, h, spec)
	if err != nil && t.ContainerID != "" && portRace(spec, err) {
		// Podman picks a free random port at create and binds it at start; containers
		// created at once can be given the same one. Only the start fails: make it again.
		a.removeFailed(h, t.ContainerID, 0)
		a.emit(Event{Kind: EventTaskCreating, Service: c.Service, Host: c.Host, TaskID: c.TaskID,
			Message: "its random host port was taken before it started; creating it again"})
		t, err = a.createAndStart(ctx, h, spec)
	}
	release()
	if err != nil {
		if t.ContainerID != "" {
			err = a.fail(h, c, t, err)
		}
		return NewTask{}, err
	}
	return a.gate(wait, h, c, rev.Task, t)
}

// replaces names the task a new one takes the place of when that one is lost (its host
// unreachable, so it could not be stopped): once the host is back, the planner stops it.
func replaces(c planner.Change) string {
	if c.Old != nil && c.Reason.Code == planner.ReasonHostUnreachable {
		return c.Old.TaskID
	}
	return ""
}

// target is the revision a change runs and the host it runs on.
func (a *applier) target(c planner.Change) (planner.Revision, providers.Host, error) {
	rev, ok := a.plan.Revisions[c.Revision]
	if !ok {
		return rev, nil, fmt.Errorf("plan has no revision %s", c.Revision)
	}
	h, err := a.host(c.Host)
	return rev, h, err
}

// createAndStart creates the container, then starts it. When it exists but did not start,
// the returned Task names it so the caller can say why and remove it.
func (a *applier) createAndStart(ctx context.Context, h providers.Host, spec providers.TaskSpec) (providers.Task, error) {
	if err := a.fence(); err != nil {
		return providers.Task{}, err
	}
	t, err := h.Create(ctx, spec)
	if err != nil {
		return providers.Task{}, err
	}
	failpoint.Hit(failpoint.AfterCreate)
	if err := a.fence(); err != nil {
		return t, err
	}
	started, err := h.Start(ctx, t.ContainerID)
	if err != nil {
		return t, err
	}
	failpoint.Hit(failpoint.AfterStart)
	return started, nil
}

// verifyTask waits for a task an earlier run started to pass its health check; a task
// that does not is removed like a new task that fails.
func (a *applier) verifyTask(ctx, wait context.Context, c planner.Change) (NewTask, error) {
	rev, h, err := a.target(c)
	if err != nil {
		return NewTask{}, err
	}
	t, err := h.Inspect(ctx, c.Existing)
	if err != nil {
		return NewTask{}, fmt.Errorf("task %s, started by an earlier run: %w", c.TaskID, err)
	}
	a.emit(Event{Kind: EventTaskVerifying, Service: c.Service, Host: c.Host, TaskID: c.TaskID,
		Message: "started by an earlier run; waiting for its health check"})
	return a.gate(wait, h, c, rev.Task, t)
}

// gate waits until t is healthy; on failure it explains and removes the task.
func (a *applier) gate(ctx context.Context, h providers.Host, c planner.Change, td manifest.TaskDef, t providers.Task) (NewTask, error) {
	nt := NewTask{Host: c.Host, TaskID: c.TaskID, ContainerID: t.ContainerID}
	if td.Port != 0 {
		if hp := t.HostPort(td.Port); hp != 0 {
			nt.Address = h.Spec().Address + ":" + strconv.Itoa(hp)
		}
	}
	a.emit(Event{Kind: EventTaskStarted, Service: c.Service, Host: c.Host, TaskID: c.TaskID, Message: nt.Address})
	started := time.Now()
	if err := a.waitHealthy(ctx, h, td, t, nt.Address); err != nil {
		return NewTask{}, a.fail(h, c, t, err)
	}
	if rt := a.routing(c.Service); rt != nil && nt.Address != "" {
		// The target group's own check, which must pass before the task is registered.
		if err := rt.targetGate(ctx, nt.Address, started); err != nil {
			return NewTask{}, a.fail(h, c, t, err)
		}
	}
	if d := a.minHealthyTime(c); d > 0 {
		a.emit(Event{Kind: EventTaskWatching, Service: c.Service, Host: c.Host, TaskID: c.TaskID,
			Message: fmt.Sprintf("passed its health check; it must stay healthy for %s (deployment.min_healthy_time) before it replaces task %s", d, c.Old.TaskID)})
		if err := a.watchHealthy(ctx, h, td, t, nt.Address, d); err != nil {
			return NewTask{}, a.fail(h, c, t, err)
		}
	}
	failpoint.Hit(failpoint.AfterHealthy)
	a.emit(Event{Kind: EventTaskHealthy, Service: c.Service, Host: c.Host, TaskID: c.TaskID, Message: nt.Address})
	return nt, nil
}

// fail keeps why a task failed (its state, exit code, OOM kill, the health probe's last
// answer, its last log lines), then removes it: the user sees why before it is gone.
func (a *applier) fail(h providers.Host, c planner.Change, t providers.Task, cause error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	f := &TaskFailure{Service: c.Service, Host: c.Host, TaskID: c.TaskID, Cause: cause}
	if now, err := h.Inspect(ctx, t.ContainerID); err == nil {
		f.State, f.ExitCode, f.OOMKilled, f.RuntimeError = now.State, now.ExitCode, now.OOMKilled, now.Error
	}
	if lines, err := h.Logs(ctx, t.ContainerID, LogLines); err == nil {
		f.Logs = a.redact.Lines(lines)
	}
	a.removeFailed(h, t.ContainerID, 0)
	return f
}

// removeFailed stops and removes a task that did not become healthy. It runs even when the
// deploy was cancelled, with a short deadline of its own, so a failed task is not orphaned.
func (a *applier) removeFailed(h providers.Host, containerID string, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout+10*time.Second)
	defer cancel()
	_ = h.Stop(ctx, containerID, max(timeout, time.Second))
	_ = h.Remove(ctx, containerID)
}

// stopOld stops and removes the task a change replaces or destroys. It reports whether it
// did; (false, nil) means the task's host is unreachable, so the task is left for the next
// plan, which sees it again when its host returns.
func (a *applier) stopOld(ctx context.Context, c planner.Change) (bool, error) {
	o := c.Old
	h := a.opts.Fleet.Host(o.Host)
	if h == nil {
		a.emit(Event{Kind: EventTaskLeft, Service: c.Service, Host: o.Host, TaskID: o.TaskID,
			Message: "host is unreachable; the task is stopped when deck next sees the host"})
		return false, nil
	}
	if err := a.fence(); err != nil {
		return false, err
	}
	timeout := o.StopTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	a.emit(Event{Kind: EventTaskStopping, Service: c.Service, Host: o.Host, TaskID: o.TaskID, Message: planner.Describe(c.Reason)})
	start := time.Now()
	err := h.Stop(ctx, o.ContainerID, timeout)
	stopped := ""
	if err == nil && time.Since(start) >= timeout {
		// Podman sends SIGKILL once the timeout passes: a stop that took it all was one.
		stopped = fmt.Sprintf("killed: it did not exit within its stop_timeout (%s) of SIGTERM", timeout)
	}
	if err == nil || errors.Is(err, providers.ErrNotFound) {
		err = h.Remove(ctx, o.ContainerID)
	}
	if err != nil && !errors.Is(err, providers.ErrNotFound) {
		a.emit(Event{Kind: EventTaskLeft, Service: c.Service, Host: o.Host, TaskID: o.TaskID, Message: err.Error()})
		return false, fmt.Errorf("task %s on %s could not be stopped: %w", o.TaskID, o.Host, err)
	}
	failpoint.Hit(failpoint.AfterStopOld)
	a.emit(Event{Kind: EventTaskStopped, Service: c.Service, Host: o.Host, TaskID: o.TaskID, Message: stopped})
	return true, nil
}

// fence refuses a write once the deploy lock is no longer certainly held: a deploy
// whose lock was taken over (or that was paused past its lease) stops before it writes.
func (a *applier) fence() error {
	if a.opts.Fence == nil {
		return nil
	}
	if err := a.opts.Fence(); err != nil {
		return fmt.Errorf("%w: %w", ErrLockLost, err)
	}
	return nil
}

func (a *applier) desired(service string) *providers.DesiredState {
	if d, ok := a.opts.Desired[service]; ok {
		return &d
	}
	return nil
}

// portRace reports whether a start failed because the random host port Podman chose was
// bound by another container meanwhile.
func portRace(spec providers.TaskSpec, err error) bool {
	return spec.Port != 0 && spec.HostPort == 0 && strings.Contains(err.Error(), "address already in use")
}

// newTaskID makes the id of a task started in place of a failed one.
func (a *applier) newTaskID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
