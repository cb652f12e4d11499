package pipeline

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// BalancersDrifted tells a balancer that lost its routes (a restart comes back empty)
// or had them changed from what the session last read; a read makes it current again.
func TestBalancersDrifted(t *testing.T) {
	_, b, target := routedWeb(t)
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
