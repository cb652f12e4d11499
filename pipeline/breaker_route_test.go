package pipeline

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/executor"
	"github.com/deckhq/deck/providers"
)

// A stop-first rollout of a routed service (minimum healthy 0%, maximum 100%) whose new
// tasks fail: the old tasks are deregistered, drained, stopped and removed (routing.gone
// marks their addresses for the next change), then the breaker trips. The route is
// written once more before applyService returns: it once returned at once, and the
// balancer kept draining upstreams of tasks that no longer existed.
func TestBreakerInAStopFirstWaveLeavesNoDrainingAddressOfARemovedTask(t *testing.T) {
	r, b, target := routedWeb(t)
	svc := target.Services[0]
	svc.Deployment.MinHealthyPercent, svc.Deployment.MaxPercent = 0, 100
	target.Services[0] = withGreeting(svc, "v1")
	client := &http.Client{Transport: answer200{}}
	out, err := Deploy{Target: target, HTTPClient: client}.Run(context.Background())
	require.NoError(t, err)
	out.Session.Close()
	v1 := runningEndpoints(r)
	require.Len(t, v1, 2)

	for _, h := range []string{"h1", "h2"} {
		r.cloud.Host(h).Exits = func(s providers.TaskSpec) (int, bool) { return 1, s.Env["GREETING"] == "v2" }
	}
	v2 := withGreeting(svc, "v2")
	v2.Deployment.CircuitBreaker.Rollback = false
	t2 := target
	t2.Services[0] = v2
	out, err = Deploy{Target: t2, HTTPClient: client}.Run(context.Background())
	out.Session.Close()
	var be *executor.BreakerError
	require.ErrorAs(t, err, &be)
	require.Empty(t, runningEndpoints(r), "stop-first: the old tasks were stopped, the new ones failed")

	routes, err := b.Routes(context.Background(), "shop", "prod")
	require.NoError(t, err)
	assert.Empty(t, routes["web"].Targets, "no target points at a removed task")
	assert.Empty(t, routes["web"].Draining, "no draining upstream of a removed task is left on the balancer")
}
