// Package health holds deck's one health rule and its one probe. The executor's health
// gate, the read-time probe that tells the planner which tasks serve, and deck status all
// ask it, so a task is never healthy to one and unhealthy to another.
//
// The rule: a task with an HTTP health check is healthy when a GET of its path on its
// published port answers 2xx or 3xx within the check's timeout (as Docker's `curl -f`
// and an ALB with success codes 200-399 agree); one with a command check is healthy when
// the command exits 0; one with no check is healthy once it has stayed running for
// MinRunning. A task that is not running is never healthy.
package health

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
)

// MinRunning is how long a task with no health check must stay running to count healthy.
const MinRunning = time.Second

// DefaultTimeout bounds one HTTP probe whose check sets no timeout.
const DefaultTimeout = 5 * time.Second

// StatusHealthy reports whether an HTTP status passes the rule (2xx and 3xx).
func StatusHealthy(status int) bool { return status >= 200 && status < 400 }

// Result is one probe's verdict.
type Result struct {
	Healthy bool
	// Detail says what was seen: "GET /healthz: 503 Service Unavailable", "exited (code 3)".
	Detail string
}

// Prober runs probes. Its zero value works; Client may be replaced (tests, keep-alives).
type Prober struct {
	Client *http.Client
}

// client is a non-keep-alive client: probes go to many short-lived tasks, and an idle
// connection to a task that was just replaced only fails the next probe.
var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// Probe checks a task once. addr is host:port of its published service port ("" when it
// publishes none); rt runs command checks on the task's host.
func (p Prober) Probe(ctx context.Context, rt providers.Runtime, t providers.Task, hc *manifest.Healthcheck, addr string) Result {
	if !t.Running() {
		return Result{Detail: describeState(t)}
	}
	switch {
	case hc == nil:
		return Result{Healthy: true, Detail: "running (no health check)"}
	case hc.Path != "":
		if addr == "" {
			return Result{Detail: "health check path " + hc.Path + " needs a published port, and the task has none"}
		}
		return p.http(ctx, "http://"+addr+hc.Path, hc.Timeout)
	case len(hc.Command) > 0:
		timeout := hc.Timeout
		if timeout <= 0 {
			timeout = DefaultTimeout
		}
		cctx, cancel := context.WithTimeout(ctx, timeout+5*time.Second)
		defer cancel()
		ok, err := rt.HealthCheck(cctx, t.ContainerID)
		switch {
		case err != nil:
			return Result{Detail: "health check command: " + err.Error()}
		case ok:
			return Result{Healthy: true, Detail: "health check command passed"}
		}
		return Result{Detail: "health check command failed"}
	}
	return Result{Healthy: true, Detail: "running (no health check)"}
}

func (p Prober) http(ctx context.Context, url string, timeout time.Duration) Result {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
	if err != nil {
		return Result{Detail: err.Error()}
	}
	c := p.Client
	if c == nil {
		c = client
	}
	resp, err := c.Do(req)
	if err != nil {
		return Result{Detail: "GET " + url + ": " + err.Error()}
	}
	resp.Body.Close()
	return Result{Healthy: StatusHealthy(resp.StatusCode), Detail: fmt.Sprintf("GET %s: %s", url, resp.Status)}
}

// describeState says why a task that is not running is not healthy.
func describeState(t providers.Task) string {
	switch {
	case t.OOMKilled:
		return fmt.Sprintf("%s: killed for using more memory than its limit (OOM, exit code %d)", t.State, t.ExitCode)
	case t.State == "exited" || t.State == "stopped":
		return fmt.Sprintf("%s (exit code %d)", t.State, t.ExitCode)
	case t.State == "":
		return "not running"
	}
	return t.State
}

// Deadline is how long a new task has to pass its first health check: its start period,
// then as many intervals as it has retries, plus one timeout, as ECS gives a task before
// it counts it unhealthy. A task with no health check has MinRunning.
func Deadline(hc *manifest.Healthcheck) time.Duration {
	if hc == nil {
		return MinRunning
	}
	retries := max(hc.Retries, 1)
	return hc.StartPeriod + time.Duration(retries)*hc.Interval + hc.Timeout
}

// State is what deck knows of a task's health when it reads the hosts.
type State string

const (
	// StateHealthy: it passed a probe when the hosts were read. Only such tasks serve.
	StateHealthy State = "healthy"
	// StateStarting: it failed (or has not had) a probe, but is younger than its Deadline, so
	// it may still pass. It counts as starting, never as serving.
	StateStarting State = "starting"
	// StateUnhealthy: it failed a probe past its Deadline, or is not running.
	StateUnhealthy State = "unhealthy"
)

// Classify turns a read-time probe into a State: a failed probe of a task still within
// its deadline is Starting, not Unhealthy. age is how long the task has been running.
func Classify(r Result, running bool, age time.Duration, hc *manifest.Healthcheck) State {
	switch {
	case !running:
		return StateUnhealthy
	case r.Healthy && (hc != nil || age >= MinRunning):
		return StateHealthy
	case age < Deadline(hc):
		return StateStarting
	}
	return StateUnhealthy
}
