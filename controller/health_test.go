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
	r := newRig(t, 1)
	svc := web(1)
	svc.Task.Healthcheck = &manifest.Healthcheck{Command: []string{"/check"}, Interval: time.Second, Timeout: time.Second, Retries: 3}
	r.deploy(svc)
	s, err := pipeline.OpenRead(context.Background(), r.target())
	require.NoError(t, err)
	defer s.Close()
	tr := newHealthTracker(r.clock.Now)
	tr.update(s)
	require.Len(t, tr.tasks, 1)
	var id string
	for k := range tr.tasks {
		id = k
	}
	require.Empty(t, tr.record(id, health.Result{Healthy: true}))

	// A read-time probe failed once: the streak says it still serves.
	s.Health[id] = state.TaskHealth{State: health.StateUnhealthy, Detail: "timeout"}
	tr.amend(s)
	assert.Equal(t, health.StateHealthy, s.Health[id].State)

	assert.Empty(t, tr.record(id, health.Result{Detail: "timeout"}))
	assert.Empty(t, tr.record(id, health.Result{Detail: "timeout"}))
	why := tr.record(id, health.Result{Detail: "health check command failed"})
	assert.Contains(t, why, "failed 3 health checks in a row", "the third failure in a row asks for a reconcile")
	s.Health[id] = state.TaskHealth{State: health.StateHealthy}
	tr.amend(s)
	assert.Equal(t, health.StateUnhealthy, s.Health[id].State, "after retries failures, it is unhealthy whatever one probe saw")
	assert.Contains(t, s.Health[id].Detail, "health check command failed")

	assert.Empty(t, tr.record(id, health.Result{Healthy: true}))
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
	tr := newHealthTracker(r.clock.Now)
	tr.update(s)
	assert.Len(t, tr.tasks, 1, "only the service's task")
}
