package executor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/health"
)

// waitHealthy waits until the task passes its health check (see package health for the
// rule). A task with no health check counts once it has stayed running for MinRunning.
// A task whose container exits fails at once. Probes start fast and back off to the
// poll interval (10 ms, then half as long again each time), so a task that is ready at
// once is seen ready at once.
func (a *applier) waitHealthy(ctx context.Context, h providers.Host, td manifest.TaskDef, t providers.Task, addr string) error {
	hc := td.Healthcheck
	limit := health.Deadline(hc)
	if hc == nil {
		limit = a.opts.MinRunning
	}
	deadline := time.Now().Add(limit)
	ctx, cancel := context.WithDeadline(ctx, deadline.Add(time.Second))
	defer cancel()
	if hc == nil {
		if !sleepCtx(ctx, time.Until(deadline)) {
			return ctx.Err()
		}
		return a.checkRunning(ctx, h, t)
	}
	prober := health.Prober{Client: a.client}
	wait, last := 10*time.Millisecond, ""
	lastStateCheck := time.Now()
	for {
		r := prober.Probe(ctx, h, t, hc, addr)
		if r.Healthy {
			return nil
		}
		last = r.Detail
		// A container that exited will never pass: look at its state now and then.
		if time.Since(lastStateCheck) > time.Second {
			lastStateCheck = time.Now()
			if err := a.checkRunning(ctx, h, t); err != nil {
				return err
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not healthy after %s: %s%s", limit, last, healthHint(td, last))
		}
		if !sleepCtx(ctx, wait) {
			return fmt.Errorf("not healthy: %w (last: %s)", ctx.Err(), last)
		}
		wait = min(wait*3/2, a.opts.PollInterval)
	}
}

// minHealthyTime is how long the new task of change c must stay healthy before it counts:
// the service's deployment.min_healthy_time when c replaces a task of another revision (a
// rollout, or a rollback), so the old task serves until the new one has proved itself;
// 0 for a task that replaces none, or one of its own revision, which has nothing to protect.
func (a *applier) minHealthyTime(c planner.Change) time.Duration {
	if c.Old == nil || c.Old.Revision == c.Revision {
		return 0
	}
	for _, sp := range a.plan.Services {
		if sp.Name == c.Service {
			return sp.Deployment.MinHealthyTime
		}
	}
	return 0
}

// watchHealthy watches a task that has passed its health check for d more: it fails when
// the container stops, or when its health check fails as many times in a row as the
// check's retries (at least 2, so that one slow answer is not a failure). It reads the
// container and probes it every watchPoll.
func (a *applier) watchHealthy(ctx context.Context, h providers.Host, td manifest.TaskDef, t providers.Task, addr string, d time.Duration) error {
	hc := td.Healthcheck
	allowed := 2
	if hc != nil && hc.Retries > allowed {
		allowed = hc.Retries
	}
	prober := health.Prober{Client: a.client}
	passed := time.Now()
	deadline := passed.Add(d)
	failed := 0
	for {
		wait := watchPoll
		if left := time.Until(deadline); left > 0 && left < wait {
			wait = left
		}
		if !sleepCtx(ctx, wait) {
			return fmt.Errorf("not healthy: %w", ctx.Err())
		}
		now, err := h.Inspect(ctx, t.ContainerID)
		if errors.Is(err, providers.ErrNotFound) {
			return fmt.Errorf("container %s is gone %s after it passed its health check, within deployment.min_healthy_time (%s)",
				t.ContainerID, time.Since(passed).Round(100*time.Millisecond), d)
		}
		if err != nil {
			return err
		}
		if !now.Running() {
			return fmt.Errorf("the container stopped (%s) %s after it passed its health check, within deployment.min_healthy_time (%s)",
				now.State, time.Since(passed).Round(100*time.Millisecond), d)
		}
		if hc != nil {
			if r := prober.Probe(ctx, h, now, hc, addr); r.Healthy {
				failed = 0
			} else if failed++; failed >= allowed {
				return fmt.Errorf("its health check failed %d times in a row (%s) %s after it first passed, within deployment.min_healthy_time (%s)",
					failed, r.Detail, time.Since(passed).Round(100*time.Millisecond), d)
			}
		}
		if !time.Now().Before(deadline) {
			if failed > 0 {
				continue // the last probe failed: the task counts once one passes again, or fails
			}
			return nil
		}
	}
}

// watchPoll is how often watchHealthy reads a task and probes it.
const watchPoll = 250 * time.Millisecond

// healthHint suggests, after a health check that never passed, the usual causes: the app
// does not listen where deck probes it, has nothing at the check's path, or needs longer
// to start than the check gives it.
func healthHint(td manifest.TaskDef, last string) string {
	switch {
	case td.Port != 0 && strings.Contains(last, "connection refused"):
		return fmt.Sprintf(" (nothing answered on the task's port %d: does the app listen on it, on all addresses? image.port names it)", td.Port)
	case td.Healthcheck != nil && td.Healthcheck.Path != "" && strings.HasSuffix(last, ": 404 Not Found"):
		// The app answers, but not on that path: waiting longer would not help.
		return fmt.Sprintf(" (the app answers, but has nothing at %s: is healthcheck.path the path it serves its health on?)", td.Healthcheck.Path)
	case td.Healthcheck != nil && td.Healthcheck.StartPeriod == 0:
		return " (if the app takes longer to start, give it healthcheck.start_period)"
	}
	return ""
}

// checkRunning fails when the task's container is no longer running.
func (a *applier) checkRunning(ctx context.Context, h providers.Host, t providers.Task) error {
	now, err := h.Inspect(ctx, t.ContainerID)
	if errors.Is(err, providers.ErrNotFound) {
		return fmt.Errorf("container %s is gone", t.ContainerID)
	}
	if err != nil {
		return err
	}
	if now.Running() {
		return nil
	}
	return fmt.Errorf("the container stopped (%s)", now.State)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
