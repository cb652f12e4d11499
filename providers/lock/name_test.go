package lock

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The deploy lock's record names are on every environment's hosts already: a new option
// must not move them, or a deck upgraded mid-deploy would not see an older deck's lock.
func TestDeployLockRecordNamesAreUnchanged(t *testing.T) {
	require.Equal(t, "deck-lock.d0c735ced1d7.", lockPrefix("web", "production", ""))
	c := newCluster(t, 1, true)
	l := c.locker(t)
	require.Equal(t, "deck-lock.d0c735ced1d7.", l.prefix)
	acquire(t, l, "alice")
	require.Equal(t, "deck-lock.d0c735ced1d7.g1", c.records(t, 0)[0].Name)
}

// A named lock and the deploy lock of the same app+environment are held at once, by
// different holders, and each one's messages say which lock they are about.
func TestNamedLockIsSeparateFromTheDeployLock(t *testing.T) {
	c := newCluster(t, 3, true)
	deploy := acquire(t, c.locker(t), "alice")
	named := c.locker(t, WithName("controller leadership"))
	require.Equal(t, "deck-lock.33390280d58a.", named.prefix)
	leader := acquire(t, named, "ctl")
	require.NoError(t, deploy.Check())
	require.NoError(t, leader.Check())
	for i := range c.hosts {
		recs, err := c.hosts[i].ListRecords(context.Background(), named.prefix)
		require.NoError(t, err)
		require.Len(t, recs, 1)
		require.Equal(t, "controller leadership", recs[0].Labels[keyName], "named for people listing records")
	}

	_, err := c.locker(t, WithName("controller leadership")).Acquire(context.Background(), Request{Who: who("bob")})
	require.Equal(t, `controller leadership lock for web/production is held by ctl@m-ctl (pid 100) since 2026-03-01 10:00:00 UTC (0s ago), `+
		`running "deck deploy" (test), epoch 1; it expires at 2026-03-01 10:00:30 UTC (in 30s) unless renewed`, err.Error())
	_, err = c.locker(t).Acquire(context.Background(), Request{Who: who("bob")})
	requireHeld(t, err, deploy.Holder().ID)

	require.NoError(t, deploy.Release(context.Background()))
	require.NoError(t, leader.Check(), "releasing the deploy lock leaves the named one held")
	c.hosts[1].SetDown(true)
	c.hosts[2].SetDown(true)
	_, err = named.Status(context.Background())
	require.ErrorContains(t, err, "controller leadership lock for web/production: 1 of 3 hosts reachable")
}

// A named lease that runs out says which lock it lost.
func TestNamedLeaseLostSaysWhichLock(t *testing.T) {
	c := newCluster(t, 1, false)
	ctx, kill := context.WithCancel(context.Background())
	l := c.locker(t, append(short(100*time.Millisecond), WithName("controller leadership"))...)
	lease, err := l.Acquire(ctx, Request{Who: who("ctl")})
	require.NoError(t, err)
	kill()
	waitLost(t, lease, 2*time.Second)
	require.ErrorIs(t, lease.Check(), ErrLost)
	require.Contains(t, lease.Check().Error(), "controller leadership lock lost: renewal stopped")
}

// TestDetailsNeverSayNegative: the hosts' clocks read to the second, truncated, so a lock
// taken this second can look taken after it was read: that is "0s ago", not "-1s ago".
func TestDetailsNeverSayNegative(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	h := Holder{User: "a", Machine: "m", Command: "deck deploy", Since: at.Add(700 * time.Millisecond), Seen: at,
		Expires: at.Add(30*time.Second + 700*time.Millisecond), Epoch: 2}
	d := h.Details()
	require.Contains(t, d, "(0s ago)")
	require.Contains(t, d, "(in 31s)")
	require.NotContains(t, d, "(-")
}
