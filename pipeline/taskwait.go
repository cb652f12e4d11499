package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/deckhq/deck/executor"
	"github.com/deckhq/deck/planner/state"
	"github.com/deckhq/deck/providers"
)

// What becomes of a task that runs to completion: its output, how it ended, and its
// removal once that is read.

// FollowTask calls line for each line the task writes, from its start, until it stops
// (or ctx ends).
func (s *Session) FollowTask(ctx context.Context, t RunningTask, line func(string)) error {
	h := s.Fleet.Host(t.Host)
	if h == nil {
		return fmt.Errorf("host %s is not connected", t.Host)
	}
	return h.FollowLogs(ctx, t.ContainerID, line)
}

// settleFor is how long a container may show "stopped" before that counts as how it
// ended: Podman shows it for a moment after the process ends, until conmon has recorded
// the exit code ("exited").
const settleFor = 3 * time.Second

// WaitTask polls the task every poll (default 250ms) until it has ended, and returns it
// as it ended (see StopReason).
func (s *Session) WaitTask(ctx context.Context, t RunningTask, poll time.Duration) (providers.Task, error) {
	h := s.Fleet.Host(t.Host)
	if h == nil {
		return providers.Task{}, fmt.Errorf("host %s is not connected", t.Host)
	}
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	var stoppedSince time.Time
	for {
		got, err := h.Inspect(ctx, t.ContainerID)
		if err != nil {
			return got, err
		}
		got.Host = t.Host
		switch {
		case got.State == "exited":
			return got, nil
		case got.State == "stopped" && stoppedSince.IsZero():
			stoppedSince = time.Now()
		case got.State == "stopped" && time.Since(stoppedSince) > settleFor:
			return got, nil
		}
		select {
		case <-ctx.Done():
			return got, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// RemoveTask stops (after its stop timeout) and removes the task's container.
func (s *Session) RemoveTask(ctx context.Context, t RunningTask, stopTimeout time.Duration) error {
	h := s.Fleet.Host(t.Host)
	if h == nil {
		return fmt.Errorf("host %s is not connected", t.Host)
	}
	if err := h.Stop(ctx, t.ContainerID, max(stopTimeout, time.Second)); err != nil && !errors.Is(err, providers.ErrNotFound) {
		return err
	}
	if err := h.Remove(ctx, t.ContainerID); err != nil && !errors.Is(err, providers.ErrNotFound) {
		return err
	}
	return nil
}

// StopReason says in one line why a task that ran to completion ended as it did, in the
// executor's words (executor.TaskFailure): "" while it runs and when it exited 0 of its
// own. A job run that ended once its timeout had passed was stopped by deck for it
// ("timed out after 1m", see timedOut): the timeout is in its desired-state label.
func StopReason(t providers.Task) string {
	switch {
	case t.Running():
		return ""
	case t.State == "created":
		s := "the container failed to start"
		if t.Error != "" {
			s += ": " + t.Error
		}
		return s
	case t.OOMKilled:
		return fmt.Sprintf("the container was killed for using more memory than its limit (OOM, exit code %d)", t.ExitCode)
	case timedOut(t):
		return "timed out after " + t.Meta.Desired.Timeout.String()
	case t.ExitCode == 0:
		return ""
	}
	return fmt.Sprintf("the container exited with code %d", t.ExitCode)
}

// timedOut reports whether a job run ended once its timeout had passed since deck started
// it: deck stopped it. The labels are written by deck's clock and FinishedAt by the host's,
// read to the second, hence the second of slack for one that ended non-zero. One that
// exits 0 when stopped (as a program should on SIGTERM) must have ended past the timeout
// itself: one that finished its work just in time succeeded.
func timedOut(t providers.Task) bool {
	d := t.Meta.Desired
	if t.Meta.Kind != providers.KindJobRun || d == nil || d.Timeout <= 0 || t.Meta.Started.IsZero() || t.FinishedAt.IsZero() {
		return false
	}
	ran := t.FinishedAt.Sub(t.Meta.Started)
	if t.ExitCode == 0 {
		return ran >= d.Timeout
	}
	return ran >= d.Timeout-time.Second
}

// failure reads why a container failed (its state, the runtime's error, its last log
// lines) and, when remove is set, removes it: the caller gets the reason before the
// container is gone.
func (s *Session) failure(service, host, taskID, containerID string, cause error, remove bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	f := &executor.TaskFailure{Service: service, Host: host, TaskID: taskID, Cause: cause}
	h := s.Fleet.Host(host)
	if h == nil {
		return f
	}
	if now, err := h.Inspect(ctx, containerID); err == nil {
		f.State, f.ExitCode, f.OOMKilled, f.RuntimeError = now.State, now.ExitCode, now.OOMKilled, now.Error
	}
	if lines, err := h.Logs(ctx, containerID, executor.LogLines); err == nil {
		f.Logs = lines
	}
	if remove {
		_ = h.Stop(ctx, containerID, time.Second)
		_ = h.Remove(ctx, containerID)
	}
	return f
}

// CleanTasks removes the standalone tasks of the session's last read that ended more than
// keep before now (those started with --detach, or whose command was killed): a detached
// task's output and exit code stay readable that long. It returns how many it removed.
func (s *Session) CleanTasks(ctx context.Context, now time.Time, keep time.Duration, fenceFn func() error) (int, error) {
	removed := 0
	var errs []error
	for _, t := range s.endedTasks(now, keep) {
		if err := fence(fenceFn); err != nil {
			return removed, err
		}
		h := s.Fleet.Host(t.Host)
		if h == nil {
			continue
		}
		if err := h.Remove(ctx, t.ContainerID); err != nil && !errors.Is(err, providers.ErrNotFound) {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

// endedTasks are the standalone tasks of the last read that ended more than keep ago (by
// when they exited, or for one that never started, when deck started it).
func (s *Session) endedTasks(now time.Time, keep time.Duration) []state.TaskState {
	var out []state.TaskState
	for t := range s.Snap.EachTask() {
		if t.Meta.Kind != providers.KindStandalone || !t.HostReachable || t.Running() {
			continue
		}
		ended := t.FinishedAt
		if ended.IsZero() || t.State == "created" {
			ended = t.Meta.Started
		}
		if !ended.IsZero() && now.Sub(ended) >= keep {
			out = append(out, t)
		}
	}
	return out
}
