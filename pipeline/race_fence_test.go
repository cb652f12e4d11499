package pipeline

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/executor"
	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers/lock"
)

// lostLease is a lease that was broken (deck lock release --force) right after it was
// taken: Check fails from the start.
type lostLease struct{ epoch uint64 }

func (l lostLease) Epoch() uint64 { return l.epoch }
func (lostLease) Check() error {
	return &lock.LostError{Cause: "broken by bob@ci (deck lock release --force)"}
}
func (lostLease) Release(context.Context) error { return nil }

// Deploy A takes the lock (epoch 5); before it writes anything the lock is broken and
// deploy B (epoch 6) scales web in from 2 to 1 (it creates nothing, so no task carries
// its newer epoch). A goes on: it once recorded its desired state (count 3) without asking
// its fence, and only then did the executor's fence stop it, leaving B's one task with A's
// desired count: the controller would have started two tasks, undoing B.
func TestDeployWithALostLockDoesNotRecordItsDesiredState(t *testing.T) {
	r := newRig(t, 2)
	_, err := r.deploy(t, webService(2))
	require.NoError(t, err)

	a := Deploy{Target: Target{App: r.app, Env: r.env, Services: []manifest.ServiceSpec{webService(3)}, Dialer: r.cloud},
		Lock: func(ctx context.Context, s *Session) (Lease, error) {
			// Between A taking the lock and writing: the lock is broken and B deploys.
			outB, errB := Deploy{Target: Target{App: r.app, Env: r.env, Services: []manifest.ServiceSpec{webService(1)}, Dialer: r.cloud},
				Lock: func(context.Context, *Session) (Lease, error) { return fixedLease{6}, nil }}.Run(ctx)
			outB.Session.Close()
			require.NoError(t, errB)
			return lostLease{5}, nil
		}}
	out, err := a.Run(context.Background())
	out.Session.Close()
	require.Error(t, err)
	assert.True(t, errors.Is(err, executor.ErrLockLost) || errors.Is(err, lock.ErrLost), "%v", err)
	assert.Equal(t, 1, r.running(t), "A's executor was fenced off: B's one task runs")
	assert.Equal(t, 1, r.desiredCount(t), "the desired state must stay B's: A no longer held the lock when it wrote")
}
