package executor

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner"
	"github.com/deckhq/deck/providers"
)

// A deploy interrupted (Ctrl-C, a cancelled CI job) while its new tasks wait for their
// health checks: no cancelled task counts as a failure of the revision. They once did: 3
// new tasks with threshold 3 tripped the circuit breaker, and the pipeline then rolled the
// service back on a context that could no longer be cancelled.
func TestInterruptIsNotABreakerTrip(t *testing.T) {
	w := newWorld(t, 3)
	slow := &manifest.Healthcheck{Command: []string{"true"}, Interval: time.Hour, Timeout: time.Second, Retries: 3}
	r2 := rev("rev2", "img:2", slow)
	changes := replaceOnEachHost(t, w)
	for _, h := range w.hosts {
		h.Healthy = func(providers.TaskSpec) bool { return false }
	}
	plan := &planner.Plan{App: "app", Env: "test", Revisions: map[string]planner.Revision{"rev2": r2},
		Services: []planner.ServicePlan{{Name: "web", Revision: "rev2", Desired: 3, Waves: 1, BreakerThreshold: 3}},
		Changes:  changes}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// EventTaskStarted is sent as a task begins to wait for its health check.
		for len(w.kinds(EventTaskStarted)) < 3 {
			time.Sleep(time.Millisecond)
		}
		cancel() // the user presses Ctrl-C
	}()
	res, err := Apply(ctx, plan, w.opts())
	require.Error(t, err)
	var be *BreakerError
	assert.False(t, errors.As(err, &be), "an interrupt is not 3 failed tasks of the revision: %v", err)
	assert.False(t, res.Services[0].Tripped, "Tripped makes the pipeline roll the service back")
	assert.Empty(t, w.kinds(EventBreaker), "no breaker event for an interrupt")
}
