package pipeline

import (
	"context"
	"net"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers/lb"
	lbfake "github.com/deckhq/deck/providers/lb/fake"
)

// BalancersDrifted tells a balancer that lost its routes (a restart comes back empty)
// or had them changed from what the session last read; a read makes it current again.
func TestBalancersDrifted(t *testing.T) {
	r := newRig(t, 2)
	r.env.LoadBalancers = []manifest.LoadBalancerSpec{{Name: "edge", Host: "h1", Listen: "10.0.0.1:80", Admin: "/run/caddy.sock"}}
	b := lbfake.New("edge")
	open := func(manifest.LoadBalancerSpec, func(context.Context) (net.Conn, error)) (lb.Balancer, error) {
		return b, nil
	}
	svc := webService(2)
	svc.Task.Healthcheck, svc.Task.Port = nil, 8080
	svc.HTTP = &manifest.HTTP{Path: "/", Healthcheck: manifest.TargetHealthcheck{Path: "/"}}
	target := Target{App: r.app, Env: r.env, Services: []manifest.ServiceSpec{svc}, Dialer: r.cloud, OpenBalancer: open}
	out, err := Deploy{Target: target, HTTPClient: &http.Client{Transport: answer200{}}}.Run(context.Background())
	require.NoError(t, err)
	out.Session.Close()

	ctx := context.Background()
	s, err := OpenRead(ctx, target)
	require.NoError(t, err)
	defer s.Close()
	assert.False(t, s.BalancersDrifted(ctx), "as read")

	routes, err := b.Routes(ctx, "shop", "prod")
	require.NoError(t, err)
	route := routes["web"]
	route.Targets = route.Targets[:1]
	require.NoError(t, b.Put(ctx, route))
	assert.True(t, s.BalancersDrifted(ctx), "a target was removed by someone else")

	require.NoError(t, b.Delete(ctx, "shop", "prod", "web"))
	assert.True(t, s.BalancersDrifted(ctx), "the balancer restarted empty")
	require.NoError(t, s.Read(ctx))
	assert.False(t, s.BalancersDrifted(ctx), "read again: current")
}
