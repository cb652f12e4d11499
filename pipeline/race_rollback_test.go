package pipeline

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
)

// deck rollback web (no --to: "the completed revision before the current one") works out
// its target before it takes the lock: with v2 serving, revision 1. While it waits for
// the lock, a deploy of v3 completes (revision 3). Under the lock the rollback sees the
// hosts changed and plans again: it once planned still to revision 1, resolved from the
// hosts as they were, undoing two deploys instead of one. It now returns to revision 2.
func TestRollbackReturnsToTheRevisionBeforeTheOneServingWhenItHoldsTheLock(t *testing.T) {
	r := newRig(t, 2)
	for _, g := range []string{"v1", "v2"} {
		_, err := r.deploy(t, withGreeting(webService(2), g))
		require.NoError(t, err)
	}
	d := Deploy{Target: Target{App: r.app, Env: r.env, Services: []manifest.ServiceSpec{withGreeting(webService(2), "v3")}, Dialer: r.cloud},
		Rollback: &RollbackTarget{Service: "web"},
		Lock: func(ctx context.Context, s *Session) (Lease, error) {
			// While the rollback waits for the lock, a deploy of v3 completes.
			_, err := r.deploy(t, withGreeting(webService(2), "v3"))
			require.NoError(t, err)
			require.Equal(t, map[string]int{"v3": 2}, greetings(r))
			return fixedLease{9}, nil
		}}
	out, err := d.Run(context.Background())
	out.Session.Close()
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"v2": 2}, greetings(r), "back to the completed revision before the one serving (3)")
	entries := r.history(t)
	require.Len(t, entries, 4)
	assert.Equal(t, 2, entries[3].RollbackOf)
}
