package executor

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/planner"
	"github.com/deckhq/deck/providers"
)

// A revision whose tasks pass their health check and crash seconds later must fail its
// rollout while the old tasks serve: deployment.min_healthy_time keeps the new task on
// watch before the task it replaces stops.

// watching waits until the new task is on watch (it passed its health check) and
// returns its container.
func watching(t *testing.T, w *world, h interface{ Tasks() []providers.Task }) providers.Task {
	t.Helper()
	require.Eventually(t, func() bool { return len(w.kinds(EventTaskWatching)) == 1 }, 10*time.Second, time.Millisecond)
	for _, tk := range h.Tasks() {
		if tk.TaskID == "new1" {
			return tk
		}
	}
	t.Fatal("the new task is on watch, but not on its host")
	return providers.Task{}
}

func TestMinHealthyTimeCatchesACrashAfterTheHealthCheck(t *testing.T) {
	w, h, old, plan := replaceOne(t)
	plan.Services[0].Deployment.MinHealthyTime = time.Minute
	plan.Services[0].BreakerThreshold = 1
	done := make(chan error, 1)
	go func() { _, err := Apply(context.Background(), plan, w.opts()); done <- err }()
	nt := watching(t, w, h)
	assert.Contains(t, w.kinds(EventTaskWatching)[0].Message, "must stay healthy for 1m0s (deployment.min_healthy_time) before it replaces task old1")
	assert.NotContains(t, h.Calls, "stop "+old.ContainerID, "the old task serves while the new one is watched")
	h.SetState(nt.ContainerID, "exited")

	err := <-done
	var f *TaskFailure
	require.True(t, errors.As(err, &f), "the crash is the task's failure: %v", err)
	assert.Contains(t, f.Error(), "after it passed its health check, within deployment.min_healthy_time (1m0s)")
	assert.Empty(t, w.kinds(EventTaskHealthy), "a task that crashed while watched never counted")
	tasks := h.Tasks()
	require.Len(t, tasks, 1, "the crashed task is removed")
	assert.Equal(t, old.ContainerID, tasks[0].ContainerID)
	assert.True(t, tasks[0].Running(), "the old task keeps serving")
}

func TestMinHealthyTimeCatchesAHealthCheckThatFailsAfterPassing(t *testing.T) {
	w, h, old, plan := replaceOne(t)
	plan.Services[0].Deployment.MinHealthyTime = time.Minute
	plan.Services[0].BreakerThreshold = 1
	done := make(chan error, 1)
	go func() { _, err := Apply(context.Background(), plan, w.opts()); done <- err }()
	watching(t, w, h)
	h.Healthy = func(s providers.TaskSpec) bool { return s.Labels[providers.LabelRevision] != "rev2" }

	err := <-done
	var f *TaskFailure
	require.True(t, errors.As(err, &f), "the failing check is the task's failure: %v", err)
	assert.Contains(t, f.Cause.Error(), "its health check failed 2 times in a row (health check command failed)")
	tasks := h.Tasks()
	require.Len(t, tasks, 1)
	assert.Equal(t, old.ContainerID, tasks[0].ContainerID, "the old task keeps serving")
}

func TestMinHealthyTimeWaitsBeforeTheOldTaskStops(t *testing.T) {
	w, h, old, plan := replaceOne(t)
	const d = 600 * time.Millisecond
	plan.Services[0].Deployment.MinHealthyTime = d
	_, err := Apply(context.Background(), plan, w.opts())
	require.NoError(t, err)
	watched, healthy, stopped := w.kinds(EventTaskWatching), w.kinds(EventTaskHealthy), w.kinds(EventTaskStopped)
	require.Len(t, watched, 1)
	require.Len(t, healthy, 1)
	require.Len(t, stopped, 1)
	assert.GreaterOrEqual(t, healthy[0].Time.Sub(watched[0].Time), d, "the task counts only once it stayed healthy for min_healthy_time")
	assert.False(t, stopped[0].Time.Before(healthy[0].Time), "the old task stops after the new one counts")
	tasks := h.Tasks()
	require.Len(t, tasks, 1)
	assert.Equal(t, "new1", tasks[0].TaskID)
	assert.NotEqual(t, old.ContainerID, tasks[0].ContainerID)
}

// Tasks that replace none (a cold deploy, a scale-out) or one of their own revision (a
// task that died, replaced by the controller) have nothing to protect, and are not held.
func TestMinHealthyTimeOnlyWhenATaskOfAnotherRevisionIsReplaced(t *testing.T) {
	for name, change := range map[string]func(*planner.Change){
		"new task":           func(c *planner.Change) { c.Action, c.Old = planner.Create, nil },
		"same revision's":    func(c *planner.Change) { c.Old.Revision = c.Revision },
		"another revision's": func(*planner.Change) {},
	} {
		t.Run(name, func(t *testing.T) {
			w, _, _, plan := replaceOne(t)
			plan.Services[0].Deployment.MinHealthyTime = 100 * time.Millisecond
			change(&plan.Changes[0])
			_, err := Apply(context.Background(), plan, w.opts())
			require.NoError(t, err)
			want := 0
			if name == "another revision's" {
				want = 1
			}
			assert.Len(t, w.kinds(EventTaskWatching), want)
		})
	}
}
