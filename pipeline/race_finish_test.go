package pipeline

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/executor"
	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers/history"
	"github.com/deckhq/deck/providers/lock"
)

// switchLease holds until lost is set (the lock was broken meanwhile).
type switchLease struct {
	epoch uint64
	lost  *atomic.Bool
}

func (l switchLease) Epoch() uint64 { return l.epoch }
func (l switchLease) Check() error {
	if l.lost.Load() {
		return &lock.LostError{Cause: "broken by bob@laptop (deck lock release --force)"}
	}
	return nil
}
func (switchLease) Release(context.Context) error { return nil }

// Deploy A of web:2 records revision 2 and hangs (a laptop that went to sleep) right as
// its rollout starts. Its holder is gone as far as anyone can tell: the lock is broken and
// deploy B of the same manifest runs. B finds revision 2 in progress, "a rerun of a run
// that died", and deploys as revision 2. While B rolls out, A wakes up: its fence stops
// its executor, and its finish once recorded revision 2 as failed, without asking the
// lock it no longer held; B then completed revision 2 but could not record it, and the
// history said the revision that serves failed (a rollback or a job would skip it).
func TestADeployThatLostTheLockDoesNotEndTheRevisionItsSuccessorDeploys(t *testing.T) {
	r := newRig(t, 1)
	ctx := context.Background()
	_, err := r.deploy(t, webService(1))
	require.NoError(t, err)
	r.cloud.Host("h1").AddImage("web:2")
	v2 := webService(1)
	v2.Image.Location, v2.Task.Image = "web:2", "web:2"

	var aLost atomic.Bool
	aHangs, aWakes := make(chan struct{}), make(chan struct{})
	var aOnce sync.Once
	aErr := make(chan error, 1)
	go func() {
		out, err := Deploy{Target: Target{App: r.app, Env: r.env, Services: []manifest.ServiceSpec{v2}, Dialer: r.cloud},
			Lock: func(context.Context, *Session) (Lease, error) { return switchLease{5, &aLost}, nil },
			Events: func(e executor.Event) {
				if e.Kind == executor.EventTaskCreating {
					aOnce.Do(func() { close(aHangs); <-aWakes })
				}
			}}.Run(ctx)
		out.Session.Close()
		aErr <- err
	}()
	select {
	case <-aHangs: // A recorded revision 2 and hangs
	case err := <-aErr:
		t.Fatalf("A ended before its rollout: %v", err)
	}

	aLost.Store(true) // deck lock release --force
	var bOnce sync.Once
	var errA error
	outB, errB := Deploy{Target: Target{App: r.app, Env: r.env, Services: []manifest.ServiceSpec{v2}, Dialer: r.cloud},
		Lock: func(context.Context, *Session) (Lease, error) { return fixedLease{6}, nil },
		Events: func(e executor.Event) {
			if e.Kind == executor.EventTaskCreating {
				bOnce.Do(func() { close(aWakes); errA = <-aErr }) // A wakes up and ends while B rolls out
			}
		}}.Run(ctx)
	outB.Session.Close()
	require.Error(t, errA, "A's fence stopped it")
	require.Equal(t, 2, outB.Revisions["web"], "B deployed as revision 2, which A had left in progress")
	assert.NoError(t, errB, "B completed revision 2")

	entries, err := r.session(t).history().List(ctx, "web")
	require.NoError(t, err)
	require.Len(t, entries, 2)
	assert.Equal(t, history.Completed, entries[1].Outcome, "revision 2 serves: %s", entries[1].Detail)
}
