package controller

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/planner/state"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/health"
)

// Podman 4.3 runs no health checks without systemd, so the controller runs each task's
// check itself, at its interval, and calls a task unhealthy only after its retries in a
// row failed, as Podman and ECS would. That verdict, not one read-time probe, is what a
// reconcile plans with: one slow answer does not get a task replaced.

// probeTick is how often the tracker looks for checks that are due.
const probeTick = 250 * time.Millisecond

// maxProbes bounds the checks in flight at once.
const maxProbes = 64

type healthTracker struct {
	now    func() time.Time
	prober health.Prober
	// log gets a health event when a task's verdict changes: unhealthy once it failed its
	// retries in a row, healthy again when it passes after that. Only changes are logged,
	// never each probe: at most one event per retries probes of a task.
	log *pipeline.EventLog
	mu  sync.Mutex
	// tasks are by state.TaskID.
	tasks map[string]*probed
}

// probed is one task's check and what its probes saw.
type probed struct {
	host     providers.Host
	hostName string
	task     *providers.Task // the snapshot's, shared: not modified
	hc       *manifest.Healthcheck
	addr     string
	next     time.Time
	inFlight bool
	healthy  bool // passed a check since the tracker knew it
	fails    int  // in a row
	detail   string
}

func newHealthTracker(now func() time.Time, log *pipeline.EventLog) *healthTracker {
	return &healthTracker{now: now, log: log, tasks: map[string]*probed{}}
}

// update replaces the set of tasks to check with the running tasks of the session that
// have a health check, keeping what was seen of those already known.
func (t *healthTracker) update(s *pipeline.Session) {
	t.mu.Lock()
	defer t.mu.Unlock()
	seen := map[string]bool{}
	now := t.now()
	for ts := range s.Snap.EachTask() {
		if !ts.Running() || !ts.HostReachable || ts.Spec == nil || ts.Spec.Healthcheck == nil || ts.Meta.Kind != "" {
			continue
		}
		h := s.Fleet.Host(ts.Host)
		if h == nil {
			continue
		}
		seen[ts.ID] = true
		p := t.tasks[ts.ID]
		if p == nil {
			p = &probed{next: now.Add(interval(ts.Spec.Healthcheck)), healthy: ts.Health == health.StateHealthy}
			t.tasks[ts.ID] = p
		}
		p.host, p.hostName, p.task, p.hc, p.addr = h, ts.Host, ts.Task, ts.Spec.Healthcheck, ts.Address(ts.HostAddress)
	}
	for id := range t.tasks {
		if !seen[id] {
			delete(t.tasks, id)
		}
	}
}

func interval(hc *manifest.Healthcheck) time.Duration {
	if hc.Interval > 0 {
		return hc.Interval
	}
	return 10 * time.Second
}

// run checks the tasks as their intervals come due until ctx ends; changed is called when
// a task that was healthy has failed its retries in a row, or passes again after that.
func (t *healthTracker) run(ctx context.Context, changed func(why string)) {
	tick := time.NewTicker(probeTick)
	defer tick.Stop()
	sem := make(chan struct{}, maxProbes)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for id, p := range t.due() {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				r := t.prober.Probe(ctx, p.host, *p.task, p.hc, p.addr)
				if ctx.Err() != nil {
					// The controller gave up (its term or process ends), not the task: a
					// probe cut short says nothing of its health.
					t.abandon(id)
					return
				}
				if c := t.record(id, r); c.why != "" {
					t.logChange(ctx, p, c)
					changed(c.why)
				}
			}()
		}
	}
}

// due returns copies of the checks whose time has come, marked in flight.
func (t *healthTracker) due() map[string]probed {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	out := map[string]probed{}
	for id, p := range t.tasks {
		if !p.inFlight && !now.Before(p.next) {
			p.inFlight = true
			out[id] = *p
		}
	}
	return out
}

// change is what one check changed: why a reconcile is needed, and the health event to
// log; zero when the task's verdict stayed as it was.
type change struct {
	why       string
	event     pipeline.LogEvent
	unhealthy bool // the task turned unhealthy (else: healthy again)
}

// abandon marks a task's probe as no longer in flight without counting it.
func (t *healthTracker) abandon(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.tasks[id]; p != nil {
		p.inFlight = false
	}
}

// record notes one check's result and returns what it changed: a healthy task that has
// failed its retries in a row turns unhealthy; an unhealthy one that passes is healthy
// again. Every other result changes nothing, so a task logs no more than one event per
// retries checks.
func (t *healthTracker) record(id string, r health.Result) change {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.tasks[id]
	if p == nil {
		return change{}
	}
	p.inFlight, p.next, p.detail = false, t.now().Add(interval(p.hc)), r.Detail
	svc := "(service " + p.task.Service + ")"
	ev := pipeline.LogEvent{Time: t.now(), Kind: pipeline.KindHealth, Service: p.task.Service, Task: p.task.TaskID, Host: p.hostName}
	if r.Healthy {
		wasUnhealthy := p.healthy && p.fails >= retries(p.hc)
		p.healthy, p.fails = true, 0
		if !wasUnhealthy {
			return change{}
		}
		ev.Message = fmt.Sprintf("%s (task %s) on %s is healthy again: %s", svc, p.task.TaskID, p.hostName, sentence(r.Detail))
		return change{why: fmt.Sprintf("task %s on %s passes its health check again (%s)", p.task.TaskID, p.hostName, r.Detail), event: ev}
	}
	p.fails++
	if p.fails == retries(p.hc) && p.healthy {
		ev.Message = fmt.Sprintf("%s (task %s) on %s is unhealthy: the health check failed %d times in a row: %s",
			svc, p.task.TaskID, p.hostName, p.fails, sentence(r.Detail))
		return change{why: fmt.Sprintf("task %s on %s failed %d health checks in a row (%s)", p.task.TaskID, p.hostName, p.fails, r.Detail),
			event: ev, unhealthy: true}
	}
	return change{}
}

// logChange logs a change's health event, unless the task turned unhealthy because it is
// no longer running (a rollout or a scale-in stopping it, a crash): its task-stopped or
// task-died event says that, and saying it is unhealthy would only mislead.
func (t *healthTracker) logChange(ctx context.Context, p probed, c change) {
	if c.unhealthy {
		ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
		now, err := p.host.Inspect(ictx, p.task.ContainerID)
		cancel()
		if err != nil || !now.Running() {
			return
		}
	}
	t.log.Add(c.event)
}

// sentence ends a probe's detail with a full stop ("" reads "no answer").
func sentence(detail string) string {
	detail = strings.TrimSpace(detail)
	switch {
	case detail == "":
		return "no detail."
	case strings.HasSuffix(detail, "."):
		return detail
	}
	return detail + "."
}

func retries(hc *manifest.Healthcheck) int { return max(hc.Retries, 1) }

// amend makes the read-time health agree with the checks' streaks: a task that failed its
// retries in a row is unhealthy; one that passed before and has failed fewer is still
// healthy, whatever one read-time probe saw.
func (t *healthTracker) amend(s *pipeline.Session) {
	t.mu.Lock()
	defer t.mu.Unlock()
	running := map[string]bool{}
	for _, ho := range s.Obs.Hosts {
		for _, tk := range ho.Tasks {
			if ho.Reachable && tk.Running() {
				running[state.TaskID(ho.Spec.Name, tk.ContainerID)] = true
			}
		}
	}
	for id, p := range t.tasks {
		th, ok := s.Health[id]
		if !ok || !running[id] {
			continue
		}
		switch {
		case p.healthy && p.fails >= retries(p.hc):
			s.Health[id] = state.TaskHealth{State: health.StateUnhealthy,
				Detail: fmt.Sprintf("failed %d health checks in a row: %s", p.fails, p.detail)}
		case p.healthy && th.State != health.StateHealthy:
			s.Health[id] = state.TaskHealth{State: health.StateHealthy, Detail: fmt.Sprintf("passed its last checks (%d failed since)", p.fails)}
		}
	}
}
