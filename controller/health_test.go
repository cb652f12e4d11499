package controller

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/planner/state"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/health"
)

// A task that passed its checks is unhealthy only after retries failures in a row: one
// slow answer (a failed read-time probe) does not get it replaced.
func TestHealthStreaksDecideWhatAReconcileSees(t *testing.T) {
	r, s := checkedWeb(t)
	tr := newHealthTracker(r.clock.Now, nil)
	tr.update(s)
	require.Len(t, tr.tasks, 1)
	var id string
	for k := range tr.tasks {
		id = k
	}
	require.Zero(t, tr.record(id, health.Result{Healthy: true}))

	// A read-time probe failed once: the streak says it still serves.
	s.Health[id] = state.TaskHealth{State: health.StateUnhealthy, Detail: "timeout"}
	tr.amend(s)
	assert.Equal(t, health.StateHealthy, s.Health[id].State)

	assert.Zero(t, tr.record(id, health.Result{Detail: "timeout"}))
	assert.Zero(t, tr.record(id, health.Result{Detail: "timeout"}))
	why := tr.record(id, health.Result{Detail: "health check command failed"}).why
	assert.Contains(t, why, "failed 3 health checks in a row", "the third failure in a row asks for a reconcile")
	s.Health[id] = state.TaskHealth{State: health.StateHealthy}
	tr.amend(s)
	assert.Equal(t, health.StateUnhealthy, s.Health[id].State, "after retries failures, it is unhealthy whatever one probe saw")
	assert.Contains(t, s.Health[id].Detail, "health check command failed")

	assert.NotZero(t, tr.record(id, health.Result{Healthy: true}), "passing again is a change")
	tr.amend(s)
	assert.Equal(t, health.StateHealthy, s.Health[id].State, "a pass ends the streak: it serves again")
	assert.Equal(t, 0, tr.tasks[id].fails)
}

// Job runs and standalone tasks are not checked by the service health tracker.
func TestHealthTrackerLeavesOutRunsAndStandaloneTasks(t *testing.T) {
	r := newRig(t, 1)
	svc := web(1)
	svc.Task.Healthcheck = &manifest.Healthcheck{Command: []string{"/check"}, Interval: time.Second, Retries: 3}
	r.deploy(svc)
	task := r.running("web")["h1"][0]
	spec := r.cloud.Host("h1").TaskSpec(task.ContainerID)
	spec.Name += "-run"
	spec.Labels[providers.LabelKind] = providers.KindJobRun
	spec.Labels[providers.LabelTask] = "run1"
	_, err := r.cloud.Host("h1").Run(context.Background(), spec)
	require.NoError(t, err)
	s, err := pipeline.OpenRead(context.Background(), r.target())
	require.NoError(t, err)
	defer s.Close()
	tr := newHealthTracker(r.clock.Now, nil)
	tr.update(s)
	assert.Len(t, tr.tasks, 1, "only the service's task")
}

// A task's health changes are logged as health events, once per change: healthy to
// unhealthy after its retries failed in a row (with the last probe's answer), and healthy
// again when it passes before it is replaced; the probes in between log nothing. A task
// that fails because it is no longer running (being stopped) logs no health event.
func TestHealthChangesAreLoggedOncePerChange(t *testing.T) {
	r, s := checkedWeb(t)
	evlog := pipeline.NewEventLog(r.clock.Now)
	tr := newHealthTracker(r.clock.Now, evlog)
	tr.update(s)
	require.Len(t, tr.tasks, 1)
	var id string
	var p probed
	for k, v := range tr.tasks {
		id, p = k, *v
	}
	task := r.running("web")["h1"][0]
	ctx := context.Background()
	probe := func(res health.Result) change {
		r.clock.Advance(time.Second) // the check's interval
		c := tr.record(id, res)
		if c.why != "" {
			tr.logChange(ctx, p, c)
		}
		return c
	}
	logged := func() []pipeline.LogEvent {
		evs, err := drain(evlog, s)
		require.NoError(t, err)
		return evs
	}
	// What an HTTP check's probe says (this task's check is a command: the tracker logs
	// whatever its probe answered).
	fail := health.Result{Detail: "GET http://10.0.0.1:32768/health: 500 Internal Server Error"}
	ok := health.Result{Healthy: true, Detail: "GET http://10.0.0.1:32768/health: 200 OK"}

	probe(ok)
	for range 2 {
		assert.Zero(t, probe(fail), "fewer failures than the retries change nothing")
	}
	assert.Empty(t, logged())
	c := probe(fail)
	assert.True(t, c.unhealthy)
	evs := logged()
	require.Len(t, evs, 1)
	assert.Equal(t, pipeline.KindHealth, evs[0].Kind)
	assert.Equal(t, "web", evs[0].Service)
	assert.Equal(t, task.TaskID, evs[0].Task)
	assert.Equal(t, "h1", evs[0].Host)
	assert.Equal(t, "(service web) (task "+task.TaskID+") on h1 is unhealthy: the health check failed 3 times in a row: "+
		"GET http://10.0.0.1:32768/health: 500 Internal Server Error.", evs[0].Message)
	for range 5 {
		assert.Zero(t, probe(fail), "an unhealthy task failing again is no change")
	}
	assert.Empty(t, logged(), "no event per probe")

	c = probe(ok)
	assert.False(t, c.unhealthy)
	assert.Contains(t, c.why, "passes its health check again")
	evs = logged()
	require.Len(t, evs, 1)
	assert.Equal(t, "(service web) (task "+task.TaskID+") on h1 is healthy again: GET http://10.0.0.1:32768/health: 200 OK.", evs[0].Message)
	assert.Zero(t, probe(ok))
	assert.Empty(t, logged())

	// Being stopped: the probes fail, but the task is no longer running.
	r.cloud.Host("h1").SetState(task.ContainerID, "stopping")
	for range 2 {
		probe(fail)
	}
	assert.True(t, probe(fail).unhealthy, "the verdict still changes (a reconcile looks)")
	assert.Empty(t, logged(), "but its stop, not a health event, tells it")
}

// drain writes l's pending events to the session's hosts and returns them as read back.
func drain(l *pipeline.EventLog, s *pipeline.Session) ([]pipeline.LogEvent, error) {
	ctx := context.Background()
	before, err := pipeline.ReadEventLog(ctx, s, time.Time{})
	if err != nil {
		return nil, err
	}
	if err := l.Flush(ctx, s); err != nil {
		return nil, err
	}
	evs, err := pipeline.ReadEventLog(ctx, s, time.Time{})
	if err != nil {
		return nil, err
	}
	return evs[len(before):], nil
}

// checkedWeb deploys one task of web with a command health check (3 retries) on a rig of
// one host, and reads it.
func checkedWeb(t *testing.T) (*rig, *pipeline.Session) {
	t.Helper()
	r := newRig(t, 1)
	svc := web(1)
	svc.Task.Healthcheck = &manifest.Healthcheck{Command: []string{"/check"}, Interval: time.Second, Timeout: time.Second, Retries: 3}
	r.deploy(svc)
	s, err := pipeline.OpenRead(context.Background(), r.target())
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return r, s
}

// hangingCheck is a host whose health checks end only when the caller gives up.
type hangingCheck struct {
	providers.Host
	started chan struct{}
}

func (h hangingCheck) HealthCheck(ctx context.Context, _ string) (bool, error) {
	close(h.started)
	<-ctx.Done()
	return false, ctx.Err()
}

// A probe cut short because the controller's term ended is not a failure of the task: with
// two real failures already, counting it would make a healthy task unhealthy.
func TestAProbeCutShortByTheControllerIsNotAFailure(t *testing.T) {
	r, s := checkedWeb(t)
	tr := newHealthTracker(r.clock.Now, pipeline.NewEventLog(r.clock.Now))
	tr.update(s)
	require.Len(t, tr.tasks, 1)
	var id string
	for k := range tr.tasks {
		id = k
	}
	tr.record(id, health.Result{Healthy: true})
	tr.record(id, health.Result{Detail: "slow"})
	tr.record(id, health.Result{Detail: "slow"})

	started := make(chan struct{})
	tr.tasks[id].host = hangingCheck{Host: tr.tasks[id].host, started: started}
	r.clock.Advance(2 * time.Second)
	ctx, endTerm := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { tr.run(ctx, func(string) {}); close(done) }()
	<-started
	endTerm()
	<-done
	require.Eventually(t, func() bool {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		return !tr.tasks[id].inFlight
	}, 5*time.Second, time.Millisecond, "the cut-short probe is over")

	tr.mu.Lock()
	fails := tr.tasks[id].fails
	tr.mu.Unlock()
	assert.Equal(t, 2, fails, "two real failures; the third probe was the controller giving up")
}
