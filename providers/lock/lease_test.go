package lock

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/providers"
)

// short options: a lease that must be renewed within 400ms, trusted for 300ms.
func short(renew time.Duration) []Option {
	return []Option{WithTTL(400 * time.Millisecond), WithMargin(100 * time.Millisecond), WithRenewInterval(renew)}
}

func TestRenewalKeepsTheLeasePastSeveralTTLs(t *testing.T) {
	c := newCluster(t, 3, false)
	l := c.locker(t, short(50*time.Millisecond)...)
	alice := acquire(t, l, "alice")
	start := time.Now()
	for time.Since(start) < 5*400*time.Millisecond {
		require.NoError(t, alice.Check(), "after %s", time.Since(start))
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case <-alice.Lost():
		t.Fatal("Lost closed while renewing")
	default:
	}
	_, err := c.locker(t, short(100*time.Millisecond)...).Acquire(context.Background(), Request{Who: who("bob")})
	requireHeld(t, err, alice.Holder().ID)
	require.True(t, alice.Holder().Expires.After(start.Add(time.Second)), "Expires follows the renewals")
	for i := range c.hosts {
		recs := c.records(t, i)
		require.LessOrEqual(t, len(recs), 2, "a holder keeps only its newest renewal")
		top := parseChain(l.prefix, recs).top
		require.Equal(t, uint64(1), top.n, "renewed, not taken again")
		require.True(t, top.last.After(start.Add(time.Second)), "renewals extend the generation")
	}
}

// A killed deploy stops renewing: once the hosts' clocks pass the TTL another deploy gets
// the lock, and the old lease fails its Check once its own validity has passed.
func TestExpiredLockIsTakenAndTheOldLeaseFails(t *testing.T) {
	c := newCluster(t, 3, true)
	ctx, kill := context.WithCancel(context.Background())
	alice, err := c.locker(t, short(100*time.Millisecond)...).Acquire(ctx, Request{Who: who("alice")})
	require.NoError(t, err)
	kill()

	_, err = c.locker(t, short(100*time.Millisecond)...).Acquire(context.Background(), Request{Who: who("bob")})
	requireHeld(t, err, alice.Holder().ID)
	c.advance(401 * time.Millisecond)
	bob := acquire(t, c.locker(t, short(100*time.Millisecond)...), "bob")
	require.Greater(t, bob.Epoch(), alice.Epoch())
	prev := bob.Previous()
	require.NotNil(t, prev, "bob's lease knows whose it took over")
	require.True(t, prev.Expired, "alice's lease had expired: %+v", prev)
	require.Nil(t, prev.BrokenBy)
	require.Equal(t, alice.Holder().ID, prev.Holder.ID)
	require.Equal(t, "alice@m-alice (pid 100)", prev.Holder.String())

	waitLost(t, alice, 2*time.Second)
	require.ErrorIs(t, alice.Check(), ErrLost)
	require.Contains(t, alice.Check().Error(), "ran out")
	require.NoError(t, bob.Check())
	require.NoError(t, alice.Release(context.Background()))
	require.Equal(t, bob.Holder().ID, c.topID(t, c.locker(t), 0), "releasing a lost lease leaves the new holder alone")
}

// A paused holder whose lock expired on the hosts finds, at its next renewal, who took it.
func TestRenewalSeesTheTakeover(t *testing.T) {
	c := newCluster(t, 3, true)
	opts := []Option{WithTTL(5 * time.Second), WithMargin(100 * time.Millisecond), WithRenewInterval(time.Second)}
	alice := acquire(t, c.locker(t, opts...), "alice")
	c.advance(6 * time.Second) // as if alice had been stopped past the TTL
	bob := acquire(t, c.locker(t, opts...), "bob")

	waitLost(t, alice, 3*time.Second)
	var lost *LostError
	require.ErrorAs(t, alice.Check(), &lost)
	require.False(t, lost.Broken)
	require.Equal(t, bob.Holder().ID, lost.By.ID)
	require.Equal(t, `deploy lock lost: taken by bob@m-bob (pid 100) at 2026-03-01 10:00:06 UTC ("deck deploy"), epoch 2`, lost.Error())
	require.NoError(t, bob.Check())
}

func TestBreakEndsTheLeaseAndSaysWhoBrokeIt(t *testing.T) {
	c := newCluster(t, 3, false)
	l := c.locker(t, WithTTL(5*time.Second), WithMargin(100*time.Millisecond), WithRenewInterval(50*time.Millisecond))
	alice := acquire(t, l, "alice")

	ops := who("ops")
	ops.Command = "deck lock release --force"
	broken, err := c.locker(t).Break(context.Background(), ops)
	require.NoError(t, err)
	require.Equal(t, alice.Holder().ID, broken.ID)

	waitLost(t, alice, 2*time.Second)
	var lost *LostError
	require.ErrorAs(t, alice.Check(), &lost)
	require.True(t, lost.Broken)
	require.Equal(t, "ops", lost.By.User)
	require.True(t, strings.HasPrefix(lost.Error(), "deploy lock lost: broken by ops@m-ops (pid 100) at "), lost.Error())
	require.NoError(t, alice.Release(context.Background()), "releasing a broken lease is a no-op")

	st, err := l.Status(context.Background())
	require.NoError(t, err)
	require.Nil(t, st, "free once broken")
	last, err := l.LastBreak(context.Background())
	require.NoError(t, err)
	require.Equal(t, alice.Holder().ID, last.ID)
	require.Equal(t, "ops", last.BrokenBy.User)
	require.Equal(t, "deck lock release --force", last.BrokenBy.Command)

	bob := acquire(t, l, "bob")
	require.Greater(t, bob.Epoch(), lost.By.Epoch)
	prev := bob.Previous()
	require.NotNil(t, prev)
	require.False(t, prev.Expired, "broken, not expired")
	require.Equal(t, alice.Holder().ID, prev.Holder.ID)
	require.NotNil(t, prev.BrokenBy)
	require.Equal(t, "ops", prev.BrokenBy.User)
	require.Greater(t, lost.By.Epoch, alice.Epoch())
	again, err := l.Break(context.Background(), ops)
	require.NoError(t, err)
	require.Equal(t, bob.Holder().ID, again.ID)
	nothing, err := l.Break(context.Background(), ops)
	require.NoError(t, err)
	require.Nil(t, nothing, "breaking a free lock breaks nothing")
}

// TestWatchEndsABrokenLeaseBeforeTheNextRenewal: with a renewal every 10s, a holder that
// watches its lock learns of a break within about the watch interval, and a watching
// holder nobody disturbs keeps its lease (its own renewals are not a takeover).
func TestWatchEndsABrokenLeaseBeforeTheNextRenewal(t *testing.T) {
	c := newCluster(t, 3, false)
	opts := []Option{WithTTL(30 * time.Second), WithRenewInterval(10 * time.Second), WithWatchInterval(50 * time.Millisecond)}
	alice := acquire(t, c.locker(t, opts...), "alice")
	time.Sleep(200 * time.Millisecond) // several watch rounds
	require.NoError(t, alice.Check(), "nothing newer on the hosts: still held")

	ops := who("ops")
	broke := time.Now()
	_, err := c.locker(t).Break(context.Background(), ops)
	require.NoError(t, err)
	waitLost(t, alice, 2*time.Second)
	require.Less(t, time.Since(broke), 5*time.Second, "ended by the watch, not by the renewal 10s on")
	var lost *LostError
	require.ErrorAs(t, alice.Check(), &lost)
	require.True(t, lost.Broken)
	require.Equal(t, "ops", lost.By.User)

	// Renewing and watching at once: the renewals' new records are ours, not a takeover.
	fast := []Option{WithTTL(400 * time.Millisecond), WithMargin(100 * time.Millisecond), WithRenewInterval(30 * time.Millisecond), WithWatchInterval(10 * time.Millisecond)}
	bob := acquire(t, c.locker(t, fast...), "bob")
	time.Sleep(time.Second)
	require.NoError(t, bob.Check())
	require.NoError(t, bob.Release(context.Background()))
}

// stuck passes calls to its host until hang is set; from then on every call blocks, deaf
// to its context, like a host cut off behind an ssh connection that has not noticed yet.
type stuck struct {
	providers.Records
	hang    atomic.Bool
	release chan struct{}
}

func (s *stuck) wait() {
	if s.hang.Load() {
		<-s.release
	}
}

func (s *stuck) CreateRecord(ctx context.Context, name string, labels map[string]string) error {
	s.wait()
	return s.Records.CreateRecord(ctx, name, labels)
}

func (s *stuck) ListRecords(ctx context.Context, prefix string) ([]providers.Record, error) {
	s.wait()
	return s.Records.ListRecords(ctx, prefix)
}

func (s *stuck) RemoveRecord(ctx context.Context, name string) error {
	s.wait()
	return s.Records.RemoveRecord(ctx, name)
}

func (s *stuck) Now(ctx context.Context) (time.Time, error) {
	s.wait()
	return s.Records.Now(ctx)
}

// A host that stops answering mid-lease must not end a lease the other two keep renewing:
// the renewal round does not wait for it (seen with the controller's hosts lease: a cut
// host held every round until the lease ran out, and leadership flapped).
func TestAHostThatHangsDoesNotEndALeaseAMajorityRenews(t *testing.T) {
	c := newCluster(t, 3, false)
	h3 := &stuck{Records: c.named[2].Records, release: make(chan struct{})}
	defer close(h3.release)
	c.named[2].Records = h3
	l := c.locker(t, short(50*time.Millisecond)...)
	alice := acquire(t, l, "alice")
	h3.hang.Store(true)
	start := time.Now()
	for time.Since(start) < 5*400*time.Millisecond {
		require.NoError(t, alice.Check(), "after %s with h3 hanging", time.Since(start))
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case <-alice.Lost():
		t.Fatal("Lost closed while h1 and h2 renewed")
	default:
	}
	require.True(t, alice.Holder().Expires.After(start.Add(time.Second)), "h1 and h2 keep extending it")
}
