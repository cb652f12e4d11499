package executor

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
)

// HealthDeadline is how long a new task has to pass its first health check: its start
// period, then as many intervals as it has retries, plus one timeout, like ECS gives a task
// before it counts the task unhealthy. A task with no health check has MinRunning.
func HealthDeadline(hc *manifest.Healthcheck, minRunning time.Duration) time.Duration {
	if hc == nil {
		return minRunning
	}
	retries := hc.Retries
	if retries < 1 {
		retries = 1
	}
	return hc.StartPeriod + time.Duration(retries)*hc.Interval + hc.Timeout
}

// waitHealthy waits until the task passes its health check (an HTTP GET of its path on its
// published port answering 2xx/3xx, or its healthcheck command exiting 0). A task with no
// health check counts once it has stayed running for MinRunning. A task whose container
// exits fails at once, with its exit code.
func (a *applier) waitHealthy(ctx context.Context, h providers.Host, td manifest.TaskDef, t providers.Task, addr string) error {
	hc := td.Healthcheck
	deadline := time.Now().Add(HealthDeadline(hc, a.opts.MinRunning))
	ctx, cancel := context.WithDeadline(ctx, deadline.Add(time.Second))
	defer cancel()
	probe := func() (bool, string) { return true, "" }
	switch {
	case hc != nil && hc.Path != "":
		if addr == "" {
			return fmt.Errorf("health check path %s needs a published port, and the task has none", hc.Path)
		}
		url := "http://" + addr + hc.Path
		probe = func() (bool, string) { return a.httpProbe(ctx, url, hc.Timeout) }
	case hc != nil && len(hc.Command) > 0:
		probe = func() (bool, string) {
			cctx, ccancel := context.WithTimeout(ctx, hc.Timeout+5*time.Second)
			defer ccancel()
			ok, err := h.HealthCheck(cctx, t.ContainerID)
			if err != nil {
				return false, err.Error()
			}
			return ok, "health check command failed"
		}
	}
	last := ""
	lastStateCheck := time.Time{}
	for {
		if hc == nil {
			// No health check: it counts once it is still running after MinRunning.
			if !sleepCtx(ctx, time.Until(deadline)) {
				return ctx.Err()
			}
			return a.checkRunning(ctx, h, t)
		}
		ok, why := probe()
		if ok {
			return nil
		}
		last = why
		// A container that exited will never pass: look at its state now and then.
		if time.Since(lastStateCheck) > time.Second {
			lastStateCheck = time.Now()
			if err := a.checkRunning(ctx, h, t); err != nil {
				return err
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not healthy after %s: %s", HealthDeadline(hc, a.opts.MinRunning), last)
		}
		if !sleepCtx(ctx, a.opts.PollInterval) {
			return fmt.Errorf("not healthy: %w (last: %s)", ctx.Err(), last)
		}
	}
}

func (a *applier) httpProbe(ctx context.Context, url string, timeout time.Duration) (bool, string) {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err.Error()
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return false, "GET " + url + ": " + err.Error()
	}
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		return true, ""
	}
	return false, fmt.Sprintf("GET %s: %s", url, resp.Status)
}

// checkRunning fails when the task's container is no longer running.
func (a *applier) checkRunning(ctx context.Context, h providers.Host, t providers.Task) error {
	tasks, err := h.List(ctx, a.plan.App, a.plan.Env)
	if err != nil {
		return err
	}
	for _, o := range tasks {
		if o.ContainerID == t.ContainerID {
			if o.Running() {
				return nil
			}
			return fmt.Errorf("container %s (exit code %d)", o.State, o.ExitCode)
		}
	}
	return fmt.Errorf("container %s is gone", t.ContainerID)
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
