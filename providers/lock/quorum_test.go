package lock

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestOneHostDownStillDeploysTwoDownDoesNot(t *testing.T) {
	c := newCluster(t, 3, true)
	l := c.locker(t)
	c.hosts[2].SetDown(true)
	lease := acquire(t, l, "alice")
	require.NoError(t, lease.Release(context.Background()))

	c.hosts[1].SetDown(true)
	_, err := l.Acquire(context.Background(), Request{Who: who("bob")})
	var q *QuorumError
	require.ErrorAs(t, err, &q)
	require.Equal(t, []string{"h2", "h3"}, q.Unreachable)
	require.Equal(t, "deploy lock for web/production: 1 of 3 hosts reachable, need 2 (a majority); cannot reach h2, h3: "+
		"host h2 (ssh://h2): reading the host's clock: unreachable: connection refused; host h3 (ssh://h3): reading the host's clock: unreachable: connection refused", err.Error())
	_, err = l.Status(context.Background())
	require.ErrorAs(t, err, &q)
}

func TestQuorumOfOneAndTwoHosts(t *testing.T) {
	one := newCluster(t, 1, true)
	acquire(t, one.locker(t), "alice")

	two := newCluster(t, 2, true)
	two.hosts[1].SetDown(true)
	_, err := two.locker(t).Acquire(context.Background(), Request{Who: who("alice")})
	require.ErrorContains(t, err, "1 of 2 hosts reachable, need both (of 2 hosts a majority is both); cannot reach h2")
}

// A host that was down while the lock changed hands comes back with a stale chain (free,
// old epoch); with the other holder's host down, it must not let a second deployer in.
func TestStaleHostDoesNotLetASecondDeployerIn(t *testing.T) {
	c := newCluster(t, 3, true)
	l := c.locker(t)
	alice := acquire(t, l, "alice")
	require.NoError(t, alice.Release(context.Background()))

	c.hosts[2].SetDown(true)
	bob := acquire(t, l, "bob")
	require.Equal(t, alice.Epoch()+1, bob.Epoch())
	c.hosts[2].SetDown(false)
	c.hosts[0].SetDown(true)
	require.Equal(t, alice.Holder().ID, c.topID(t, l, 2), "h3 is stale: alice's release is its newest")

	_, err := c.locker(t).Acquire(context.Background(), Request{Who: who("carol")})
	requireHeld(t, err, bob.Holder().ID)
	require.NoError(t, bob.Release(context.Background()))
	carol := acquire(t, l, "carol")
	require.Greater(t, carol.Epoch(), bob.Epoch(), "h2 alone carries bob's epoch into carol's")
}

// A holder's renewals join a host that was down when it acquired, so it survives losing
// one of the hosts it acquired on.
func TestRenewalJoinsAHostThatComesBack(t *testing.T) {
	c := newCluster(t, 3, true)
	l := c.locker(t, short(50*time.Millisecond)...)
	c.hosts[2].SetDown(true)
	alice := acquire(t, l, "alice")
	c.hosts[2].SetDown(false)
	waitFor(t, 2*time.Second, "alice to join h3", func() bool { return c.topID(t, l, 2) == alice.Holder().ID })

	c.hosts[0].SetDown(true)
	start := time.Now()
	for time.Since(start) < 3*400*time.Millisecond {
		require.NoError(t, alice.Check(), "renewed on h2 and h3")
		time.Sleep(20 * time.Millisecond)
	}
	_, err := c.locker(t).Acquire(context.Background(), Request{Who: who("bob")})
	requireHeld(t, err, alice.Holder().ID)
}

// With no majority reachable the holder cannot renew, so its lease ends before any host
// could expire the lock.
func TestLeaseEndsWhenNoMajorityCanBeRenewed(t *testing.T) {
	c := newCluster(t, 3, true)
	alice := acquire(t, c.locker(t, short(50*time.Millisecond)...), "alice")
	c.hosts[0].SetDown(true)
	c.hosts[1].SetDown(true)
	waitLost(t, alice, 2*time.Second)
	require.ErrorContains(t, alice.Check(), "not renewed on a majority of hosts within 300ms")
	err := alice.Release(context.Background())
	require.ErrorContains(t, err, "released on only 1 of 3 hosts, cannot reach h1, h2; it expires by itself within 400ms")
}
