package leader_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/providers/leader"
	"github.com/deckhq/deck/testhosts"
)

// etcdTTL is the lease of the etcd tests (etcd grants 2s at the least, by default, and
// checks for expired leases every 500ms).
const etcdTTL = 3 * time.Second

func etcdElector(t *testing.T, endpoint, name string) *leader.Etcd {
	t.Helper()
	e, err := leader.NewEtcd([]string{endpoint}, "shop", "prod", leader.Options{TTL: etcdTTL, Who: who(name)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// The leader's client is closed without resigning (its keep-alives stop, as when the
// process dies): the standby, which waited while it renewed, leads within two leases,
// with a higher epoch, and the old term's Check has failed.
func TestEtcdStandbyTakesOverWithinTwoLeases(t *testing.T) {
	endpoint := testhosts.StartEtcd(t)
	first := etcdElector(t, endpoint, "first")
	second := etcdElector(t, endpoint, "second")
	_, ok, err := second.Leader(context.Background())
	require.NoError(t, err)
	require.False(t, ok, "no leader before any campaign")

	t1 := lead(t, first)
	requireLeader(t, second, "first@m-first (pid 100)")
	standby := campaign(context.Background(), second)
	requireWaiting(t, standby, 3*etcdTTL)
	require.NoError(t, t1.Check(), "renewed while the standby waited")

	require.NoError(t, first.Close())
	died := time.Now()
	r := waitResult(t, standby, 2*etcdTTL)
	t.Logf("takeover %s after the leader's client closed (TTL %s)", r.at.Sub(died).Round(time.Millisecond), etcdTTL)
	assert.Greater(t, r.term.Epoch(), t1.Epoch())
	require.ErrorIs(t, t1.Check(), leader.ErrLost)
	requireLeader(t, second, "second@m-second (pid 100)")

	// Resign hands over at once, and epochs keep growing.
	third := etcdElector(t, endpoint, "third")
	next := campaign(context.Background(), third)
	requireWaiting(t, next, etcdTTL)
	resigned := time.Now()
	require.NoError(t, r.term.Resign(context.Background()))
	require.ErrorIs(t, r.term.Check(), leader.ErrResigned)
	r3 := waitResult(t, next, etcdTTL)
	t.Logf("handover %s after Resign", r3.at.Sub(resigned).Round(time.Millisecond))
	assert.Greater(t, r3.term.Epoch(), r.term.Epoch())
}

// A leader cut off from etcd (its traffic held, then let through late) finds Check
// failing before the standby leads; its late keep-alives do not revive its term.
func TestEtcdCutOffLeaderFailsCheckBeforeTheStandbyLeads(t *testing.T) {
	endpoint := testhosts.StartEtcd(t)
	net := startProxy(t, endpoint[len("http://"):])
	first := etcdElector(t, net.URL(), "first")
	second := etcdElector(t, endpoint, "second")
	t1 := lead(t, first)
	standby := campaign(context.Background(), second)
	requireWaiting(t, standby, etcdTTL)

	net.Pause()
	failed := failsAt(t1)
	r := waitResult(t, standby, 3*etcdTTL)
	checkFailed := <-failed
	t.Logf("leader's Check failed %s before the standby led", r.at.Sub(checkFailed).Round(time.Millisecond))
	require.True(t, checkFailed.Before(r.at))
	require.ErrorIs(t, t1.Check(), leader.ErrLost)

	net.Resume()
	<-t1.Lost()
	requireWaitingTerm(t, r.term, 2*etcdTTL)
	requireLeader(t, first, "second@m-second (pid 100)")
	assert.Greater(t, r.term.Epoch(), t1.Epoch())
}

// A campaign whose ctx ends gives up and leaves no key behind; Campaign keeps trying
// while etcd cannot be reached.
func TestEtcdCampaignStops(t *testing.T) {
	endpoint := testhosts.StartEtcd(t)
	first := etcdElector(t, endpoint, "first")
	second := etcdElector(t, endpoint, "second")
	t1 := lead(t, first)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := second.Campaign(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NoError(t, t1.Resign(context.Background()))
	_, ok, err := first.Leader(context.Background())
	require.NoError(t, err)
	require.False(t, ok, "the given-up campaign left no key to inherit the leadership")

	nowhere := etcdElector(t, "http://127.0.0.1:1", "nowhere")
	ctx2, cancel2 := context.WithTimeout(context.Background(), 2*etcdTTL)
	defer cancel2()
	_, err = nowhere.Campaign(ctx2)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "last error: etcd: granting a lease")
}
