package leader_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers/fake"
	"github.com/deckhq/deck/providers/leader"
	"github.com/deckhq/deck/providers/lock"
)

// fakeTTL is the lease of the unit tests: renewals every 300ms, Check trusted for 600ms
// after a renewal was sent (a third, 300ms, is the margin).
const fakeTTL = 900 * time.Millisecond

func fakeHosts(n int) ([]*fake.Host, []lock.NamedRecords) {
	cloud := fake.NewCloud()
	var hosts []*fake.Host
	var named []lock.NamedRecords
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("h%d", i)
		h := cloud.AddHost(manifest.HostSpec{Name: name, URL: "ssh://" + name}, manifest.Resources{})
		hosts = append(hosts, h)
		named = append(named, lock.NamedRecords{Name: name, Records: h})
	}
	return hosts, named
}

func hostsElector(t *testing.T, named []lock.NamedRecords, name string, ttl time.Duration) *leader.Hosts {
	t.Helper()
	e, err := leader.NewHosts(named, "shop", "prod", leader.Options{TTL: ttl, Who: who(name)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// The leader dies (stops renewing, without resigning): the standby, which waited while
// it renewed, leads within two leases, with a higher epoch.
func TestHostsStandbyTakesOverWithinTwoLeases(t *testing.T) {
	_, named := fakeHosts(3)
	first := hostsElector(t, named, "first", fakeTTL)
	second := hostsElector(t, named, "second", fakeTTL)
	t1 := lead(t, first)
	requireLeader(t, second, "first@m-first (pid 100)")

	standby := campaign(context.Background(), second)
	requireWaiting(t, standby, 3*fakeTTL)
	require.NoError(t, t1.Check(), "renewed while the standby waited")

	require.NoError(t, first.Close()) // as if killed: renewals stop, nothing is released
	died := time.Now()
	r := waitResult(t, standby, 2*fakeTTL)
	t.Logf("takeover %s after the leader stopped renewing (TTL %s)", r.at.Sub(died).Round(time.Millisecond), fakeTTL)
	assert.Greater(t, r.term.Epoch(), t1.Epoch())
	require.ErrorIs(t, t1.Check(), leader.ErrLost)
	requireLeader(t, second, "second@m-second (pid 100)")
	require.NoError(t, r.term.Check())
}

// A leader paused past its lease (its calls hang, as in a SIGSTOP) finds Check failing
// before the standby's term begins; resumed, its late renewals do not revive its term.
func TestHostsPausedLeaderFailsCheckBeforeTheStandbyLeads(t *testing.T) {
	hosts, named := fakeHosts(3)
	leaderHosts, proc := pausableHosts(named)
	defer proc.Resume()
	first := hostsElector(t, leaderHosts, "first", fakeTTL)
	second := hostsElector(t, named, "second", fakeTTL)
	t1 := lead(t, first)
	standby := campaign(context.Background(), second)
	requireWaiting(t, standby, fakeTTL)

	proc.Pause()
	failed := failsAt(t1)
	r := waitResult(t, standby, 3*fakeTTL)
	checkFailed := <-failed
	began := termBegan(t, hosts, "second")
	t.Logf("leader's Check failed %s before the standby's term began", began.Sub(checkFailed).Round(time.Millisecond))
	require.True(t, checkFailed.Before(began), "Check failed at %s, the standby began at %s", checkFailed, began)
	require.ErrorIs(t, t1.Check(), leader.ErrLost)

	proc.Resume()
	select {
	case <-t1.Lost():
	case <-time.After(3 * fakeTTL):
		t.Fatal("the resumed leader's Lost did not close")
	}
	require.ErrorIs(t, t1.Check(), leader.ErrLost)
	requireWaitingTerm(t, r.term, 3*fakeTTL)
	requireLeader(t, first, "second@m-second (pid 100)")
}

// requireWaitingTerm asserts a term stays held for d.
func requireWaitingTerm(t *testing.T, term leader.Term, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		require.NoError(t, term.Check())
		time.Sleep(10 * time.Millisecond)
	}
}

// termBegan is when the first record of user's term was created on any host: its term
// began no earlier.
func termBegan(t *testing.T, hosts []*fake.Host, user string) time.Time {
	t.Helper()
	var first time.Time
	for _, h := range hosts {
		recs, err := h.ListRecords(context.Background(), "deck-lock.")
		require.NoError(t, err)
		for _, r := range recs {
			if r.Labels["deck.lock.user"] == user && !strings.Contains(r.Name, ".r") && (first.IsZero() || r.Created.Before(first)) {
				first = r.Created
			}
		}
	}
	require.False(t, first.IsZero(), "%s's term is on the hosts", user)
	return first
}

// Resign hands over at once: the standby need not wait for the lease.
func TestHostsResignHandsOver(t *testing.T) {
	_, named := fakeHosts(3)
	ttl := 6 * time.Second
	first := hostsElector(t, named, "first", ttl)
	second := hostsElector(t, named, "second", ttl)
	t1 := lead(t, first)
	standby := campaign(context.Background(), second)
	requireWaiting(t, standby, 100*time.Millisecond)
	resigned := time.Now()
	require.NoError(t, t1.Resign(context.Background()))
	require.ErrorIs(t, t1.Check(), leader.ErrResigned)
	r := waitResult(t, standby, ttl/2)
	t.Logf("handover %s after Resign (TTL %s)", r.at.Sub(resigned).Round(time.Millisecond), ttl)
	assert.Greater(t, r.term.Epoch(), t1.Epoch())
}

// Campaign keeps trying while too few hosts answer, and leads once they are back; it
// returns when its ctx ends or the elector is closed.
func TestHostsCampaignRetriesAndStops(t *testing.T) {
	hosts, named := fakeHosts(3)
	e := hostsElector(t, named, "first", fakeTTL)
	hosts[1].SetDown(true)
	hosts[2].SetDown(true)
	_, _, err := e.Leader(context.Background())
	require.ErrorContains(t, err, "controller leadership lock for shop/prod: 1 of 3 hosts reachable")

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = e.Campaign(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "1 of 3 hosts reachable", "says why it was still waiting")

	pending := campaign(context.Background(), e)
	requireWaiting(t, pending, 300*time.Millisecond)
	hosts[2].SetDown(false)
	r := waitResult(t, pending, 2*time.Second)
	require.NoError(t, r.term.Check())

	other := hostsElector(t, named, "other", fakeTTL)
	waiting := campaign(context.Background(), other)
	require.NoError(t, other.Close())
	select {
	case r := <-waiting:
		require.True(t, errors.Is(r.err, leader.ErrClosed), "got %v", r.err)
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not end the campaign")
	}
}

// New picks the backend deck.yaml names, with its lease as the TTL.
func TestNewFollowsTheControllerSettings(t *testing.T) {
	_, named := fakeHosts(1)
	spec := manifest.DefaultController()
	spec.Lease = 4 * time.Second
	e, err := leader.New(spec, named, "shop", "prod", leader.Options{Who: who("first")})
	require.NoError(t, err)
	defer e.Close()
	require.IsType(t, &leader.Hosts{}, e)
	term := lead(t, e)
	st, err := lock.NewHostsLocker(named, "shop", "prod", lock.WithName(leader.LockName))
	require.NoError(t, err)
	h, err := st.Status(context.Background())
	require.NoError(t, err)
	require.Equal(t, 4*time.Second, h.TTL)
	require.Equal(t, term.Epoch(), h.Epoch)

	spec.Leader, spec.Etcd.Endpoints = manifest.LeaderEtcd, []string{"http://127.0.0.1:1"}
	e2, err := leader.New(spec, nil, "shop", "prod", leader.Options{})
	require.NoError(t, err)
	defer e2.Close()
	require.IsType(t, &leader.Etcd{}, e2)
}
