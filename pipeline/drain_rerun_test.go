package pipeline

import (
	"context"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/executor"
	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers/lb"
	lbfake "github.com/deckhq/deck/providers/lb/fake"
)

// putLog records every route written to the fake balancer.
type putLog struct {
	*lbfake.Balancer
	mu   sync.Mutex
	puts []lb.Route
}

func (p *putLog) Put(ctx context.Context, r lb.Route) error {
	p.mu.Lock()
	p.puts = append(p.puts, lb.Route{Targets: slices.Clone(r.Targets), Draining: slices.Clone(r.Draining)})
	p.mu.Unlock()
	return p.Balancer.Put(ctx, r)
}

func (p *putLog) Close() error { return nil }

// Ctrl-C while the old tasks drain (executor/routes.go drain returns ctx.Err() from its
// wait, so applyWave's stopAll never stops them): the new tasks are registered, the old
// ones are deregistered (draining, each with a request in flight) and still running. A
// rerun of the same manifests cleans them up and the route never loses every target, but
// it must drain them as any old task is drained: keep them draining on the balancer and
// wait for their requests (or the deregistration delay) before SIGTERM. It once dropped
// them from the route in its first change (the plan's route has no Draining) and stopped
// them at once: drain deregisters only addresses among the Targets.
func TestRerunAfterAnInterruptedDrainStillDrainsTheOldTasks(t *testing.T) {
	r, b, target := routedWeb(t)
	pl := &putLog{Balancer: b}
	target.OpenBalancer = func(manifest.LoadBalancerSpec, func(context.Context) (net.Conn, error)) (lb.Balancer, error) {
		return pl, nil
	}
	target.Services[0] = withGreeting(target.Services[0], "v1")
	client := &http.Client{Transport: answer200{}}
	out, err := Deploy{Target: target, HTTPClient: client}.Run(context.Background())
	require.NoError(t, err)
	out.Session.Close()
	v1 := runningEndpoints(r)
	require.Len(t, v1, 2)
	for _, a := range v1 {
		b.SetInFlight(a, 1) // a long request to each old task
	}

	v2 := withGreeting(target.Services[0], "v2")
	v2.HTTP = &manifest.HTTP{Path: "/", Healthcheck: manifest.TargetHealthcheck{Path: "/"}, DeregistrationDelay: time.Hour}
	t2 := target
	t2.Services = []manifest.ServiceSpec{v2}
	ctx, cancel := context.WithCancel(context.Background())
	d := Deploy{Target: t2, HTTPClient: client, Events: func(e executor.Event) {
		if e.Kind == executor.EventDraining {
			cancel() // Ctrl-C while the old tasks drain
		}
	}}
	out, err = d.Run(ctx)
	out.Session.Close()
	require.ErrorIs(t, err, context.Canceled)
	routes, err := b.Routes(context.Background(), "shop", "prod")
	require.NoError(t, err)
	require.ElementsMatch(t, v1, routes["web"].Draining, "the old tasks were left draining")
	require.Len(t, routes["web"].Targets, 2, "the new tasks serve")
	require.Len(t, runningEndpoints(r), 4, "the old tasks still run, in no route's targets")

	// The rerun, with a short deregistration delay so that a drain ends soon.
	v2.HTTP.DeregistrationDelay = 200 * time.Millisecond
	t2.Services = []manifest.ServiceSpec{v2}
	pl.mu.Lock()
	pl.puts = nil
	pl.mu.Unlock()
	var mu sync.Mutex
	var drained []string
	out, err = Deploy{Target: t2, HTTPClient: client, Events: func(e executor.Event) {
		if e.Kind == executor.EventDraining {
			mu.Lock()
			drained = append(drained, e.Message)
			mu.Unlock()
		}
	}}.Run(context.Background())
	require.NoError(t, err)
	out.Session.Close()
	routes, err = b.Routes(context.Background(), "shop", "prod")
	require.NoError(t, err)
	require.Empty(t, routes["web"].Draining)
	require.Len(t, routes["web"].Targets, 2)
	require.Len(t, runningEndpoints(r), 2, "the rerun stopped the old tasks")
	pl.mu.Lock()
	for _, p := range pl.puts {
		require.NotEmpty(t, p.Targets, "the route never loses every target")
	}
	for _, p := range pl.puts {
		if len(p.Draining) < 2 {
			continue
		}
		assert.ElementsMatch(t, v1, p.Draining, "while they drain, the old tasks stay draining")
	}
	pl.mu.Unlock()
	mu.Lock()
	require.Len(t, drained, 2, "the rerun waits for the old tasks' requests (or the deregistration delay) before it stops them")
	for _, a := range v1 {
		assert.Contains(t, drained[0], a, "waited on as it drains")
	}
	assert.Contains(t, drained[1], "deregistration delay 200ms passed with 2 requests in flight; stopping")
	mu.Unlock()
}
