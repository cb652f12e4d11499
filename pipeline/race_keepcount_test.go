package pipeline

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
)

// Deploy A (a new image of a service with a count range) reads the autoscaler's count (2)
// before it takes the lock (keepScaledCounts, in open). While it waits for the lock, the
// controller scales web out to 4 and its reconcile starts the two tasks. A gets the lock,
// sees that the hosts changed and plans again; it once did so from the count it read
// before the lock, rolling web out at 2, stopping two tasks, and recording 2.
func TestDeployKeepsTheCountTheAutoscalerSetWhileItWaitedForTheLock(t *testing.T) {
	r := newRig(t, 2)
	ctx := context.Background()
	_, err := r.deploy(t, scaledWeb(2, 10))
	require.NoError(t, err)
	for _, h := range []string{"h1", "h2"} {
		r.cloud.Host(h).AddImage("web:2")
	}
	next := scaledWeb(2, 10)
	next.Image.Location, next.Task.Image = "web:2", "web:2"

	a := Deploy{Target: Target{App: r.app, Env: r.env, Services: []manifest.ServiceSpec{next}, Dialer: r.cloud},
		Lock: func(ctx context.Context, s *Session) (Lease, error) {
			// While A waits: the autoscaler scales out and the controller reconciles.
			require.NoError(t, SetDesiredCount(ctx, r.session(t), "web", 4, "cpu 145% of target 70%", nil))
			require.NoError(t, heal(ctx, Target{App: r.app, Env: r.env, Dialer: r.cloud}))
			require.Equal(t, 4, r.running(t))
			return fixedLease{9}, nil
		}}
	out, err := a.Run(ctx)
	out.Session.Close()
	require.NoError(t, err)
	assert.Equal(t, 4, r.desiredCount(t), "a deploy must not undo the autoscaler")
	assert.Equal(t, 4, r.running(t), "the new revision runs at the autoscaler's count")
}
