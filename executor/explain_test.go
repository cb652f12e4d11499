package executor

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner"
)

// A health check that never passed says what usually causes it.
func TestHealthHintNamesTheUsualCauses(t *testing.T) {
	hc := &manifest.Healthcheck{Command: []string{"CMD", "/app", "-check"}, Interval: time.Second}
	td := manifest.TaskDef{Port: 9090, Healthcheck: hc}
	assert.Equal(t, " (nothing answered on the task's port 9090: does the app listen on it, on all addresses? image.port names it)",
		healthHint(td, "GET http://10.0.0.1:41234/health: dial tcp 10.0.0.1:41234: connect: connection refused"))
	assert.Equal(t, " (if the app takes longer to start, give it healthcheck.start_period)", healthHint(td, "exit code 1"))
	hc.StartPeriod = time.Minute
	assert.Empty(t, healthHint(td, "exit code 1"), "a start period was given: nothing to suggest")
	web := manifest.TaskDef{Port: 8080, Healthcheck: &manifest.Healthcheck{Path: "/healthz", Interval: time.Second}}
	assert.Equal(t, " (the app answers, but has nothing at /healthz: is healthcheck.path the path it serves its health on?)",
		healthHint(web, "GET http://10.0.0.1:41234/healthz: 404 Not Found"), "a 404 is no slow start")
}

// An old task that does not exit on SIGTERM is killed at its stop_timeout, and its
// stopped event says so.
func TestStopOfATaskThatIgnoresSIGTERMSaysItWasKilled(t *testing.T) {
	w := newWorld(t, 1)
	changes := replaceOnEachHost(t, w)
	for i := range changes {
		changes[i].Old.StopTimeout = 50 * time.Millisecond
	}
	w.hosts[0].IgnoresTerm = func(string) bool { return true }
	r2 := rev("rev2", "img:2", nil)
	plan := &planner.Plan{App: "app", Env: "test", Revisions: map[string]planner.Revision{"rev2": r2},
		Services: []planner.ServicePlan{{Name: "web", Revision: "rev2", Desired: 1, Waves: 1}}, Changes: changes}
	_, err := Apply(context.Background(), plan, w.opts())
	require.NoError(t, err)
	var stopped []string
	for _, e := range w.kinds(EventTaskStopped) {
		stopped = append(stopped, e.Message)
	}
	assert.Equal(t, []string{"killed: it did not exit within its stop_timeout (50ms) of SIGTERM"}, stopped)
}
