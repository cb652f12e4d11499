package controller

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/providers/lb"
	lbfake "github.com/deckhq/deck/providers/lb/fake"
)

type alwaysOK struct{}

func (alwaysOK) RoundTrip(*http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}}, nil
}

// routedRig is a rig whose environment has a (fake) load balancer, and a routed web.
func routedRig(t *testing.T, hosts, n int) (*rig, *lbfake.Balancer, manifest.ServiceSpec) {
	r := newRig(t, hosts)
	r.env.LoadBalancers = []manifest.LoadBalancerSpec{{Name: "edge", Host: "h1", Listen: "10.0.0.1:80", Admin: "/run/caddy.sock"}}
	b := lbfake.New("edge")
	svc := web(n)
	svc.Type = manifest.LoadBalancedWebService
	svc.Task.Port = 8080
	svc.HTTP = &manifest.HTTP{Path: "/", Healthcheck: manifest.TargetHealthcheck{Path: "/"}}
	return r, b, svc
}

func routedTarget(r *rig, b *lbfake.Balancer) pipeline.Target {
	t := r.target()
	t.OpenBalancer = func(manifest.LoadBalancerSpec, func(context.Context) (net.Conn, error)) (lb.Balancer, error) {
		return b, nil
	}
	return t
}

func routedDeploy(t *testing.T, r *rig, b *lbfake.Balancer, svcs ...manifest.ServiceSpec) {
	tg := routedTarget(r, b)
	tg.Services = svcs
	out, err := pipeline.Deploy{Target: tg, Lock: r.lock, HTTPClient: &http.Client{Transport: alwaysOK{}}}.Run(context.Background())
	if out != nil && out.Session != nil {
		out.Session.Close()
	}
	require.NoError(t, err)
}

// README: "A task whose container exits, is killed or is OOM-killed is taken out of the
// load balancers' routes at once". That holds for a service waiting out the crash-loop
// (or failure) back-off too: its tasks are held, but its route is reconciled, so clients
// are not sent to a dead address for the whole delay (up to 5 minutes).
func TestADeadTaskOfAServiceInBackoffIsDeregistered(t *testing.T) {
	r, b, svc := routedRig(t, 2, 2)
	r.cloud.Host("h1").SetClock(r.clock.Now)
	r.cloud.Host("h2").SetClock(r.clock.Now)
	routedDeploy(t, r, b, svc)
	routes, err := b.Routes(context.Background(), "shop", "prod")
	require.NoError(t, err)
	require.Len(t, routes["web"].Targets, 2, "both tasks registered by the deploy")

	c := New(Config{Target: routedTarget(r, b), Lock: r.lock, HostGrace: 15 * time.Second, Now: r.clock.Now})
	// An earlier early exit of web was counted (and replaced at once): the streak is 1.
	c.crash.counted["web"] = r.clock.Now()
	c.crash.streak["web"] = 1

	// Now one of web's tasks exits 4s after it started: the second early exit in a row.
	victim := r.running("web")["h2"][0]
	r.clock.Advance(4 * time.Second)
	r.cloud.Host("h2").Finish(victim.ContainerID, 3)
	require.NoError(t, c.Once(context.Background()))
	require.Greater(t, c.retry.waiting("web"), time.Duration(0), "web waits out the crash-loop back-off")

	routes, err = b.Routes(context.Background(), "shop", "prod")
	require.NoError(t, err)
	assert.NotContains(t, routes["web"].Targets, victim.Address("10.0.0.2"),
		"the exited task's address must be taken out of the route at once, back-off or not")
}

// A load balancer that cannot be read holds the services it routes, not the others: a
// worker whose task dies while the balancer's host is down is replaced at once.
func TestABalancerOutageHoldsOnlyItsRoutedServices(t *testing.T) {
	r, b, svc := routedRig(t, 2, 2)
	worker := web(2)
	worker.Name = "worker"
	routedDeploy(t, r, b, svc, worker)

	c := New(Config{Target: routedTarget(r, b), Lock: r.lock, HostGrace: 15 * time.Second, Now: r.clock.Now})
	require.NoError(t, c.Once(context.Background()))
	b.SetDown(true)
	dead := r.running("worker")["h2"][0]
	r.cloud.Host("h2").Finish(dead.ContainerID, 1)
	require.NoError(t, c.Once(context.Background()))

	n := 0
	for _, tasks := range r.running("worker") {
		n += len(tasks)
	}
	assert.Equal(t, 2, n, "the worker is back to its count while the balancer is down")
	assert.Len(t, r.running("web")["h1"], 1, "web is left as it was")
	assert.Len(t, r.running("web")["h2"], 1, "web is left as it was")
}
