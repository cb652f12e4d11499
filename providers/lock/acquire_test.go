package lock

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSecondAcquireIsRefusedNamingTheHolder(t *testing.T) {
	c := newCluster(t, 3, true)
	l := c.locker(t)
	alice := acquire(t, l, "alice")
	require.Equal(t, uint64(1), alice.Epoch())
	require.NoError(t, alice.Check())

	c.advance(20 * time.Second)
	_, err := c.locker(t).Acquire(context.Background(), Request{Who: who("bob")})
	held := requireHeld(t, err, alice.Holder().ID)
	h := held.Holder
	require.Equal(t, []any{"alice", "m-alice", 100, "deck deploy", "test", uint64(1), 30 * time.Second},
		[]any{h.User, h.Machine, h.PID, h.Command, h.Why, h.Epoch, h.TTL})
	require.Equal(t, base, h.Since)
	require.Equal(t, base.Add(30*time.Second), h.Expires)
	require.Equal(t, `deploy lock for web/production is held by alice@m-alice (pid 100) since 2026-03-01 10:00:00 UTC (20s ago), `+
		`running "deck deploy" (test), epoch 1; it expires at 2026-03-01 10:00:30 UTC (in 10s) unless renewed; `+
		`wait with --lock-wait 5m, or deck lock release --force if the holder is gone`, err.Error())

	st, err := l.Status(context.Background())
	require.NoError(t, err)
	require.Equal(t, alice.Holder().ID, st.ID)
}

// Contenders started at one instant: exactly one wins and the others are told who did.
func TestConcurrentAcquiresOneWins(t *testing.T) {
	for _, n := range []int{2, 5} {
		t.Run(fmt.Sprintf("%d contenders", n), func(t *testing.T) {
			c := newCluster(t, 3, false)
			c.slowDown(300 * time.Microsecond)
			lockers := make([]*HostsLocker, n) // one per contender, as separate processes have
			for i := range lockers {
				lockers[i] = c.locker(t)
			}
			var last uint64
			for iter := range 50 {
				winner := race(t, lockers)
				require.Greater(t, winner.Epoch(), last, "iteration %d", iter)
				last = winner.Epoch()
				require.NoError(t, winner.Release(context.Background()))
			}
			for i := range c.hosts {
				require.LessOrEqual(t, len(c.records(t, i)), 4, "old generations are collected")
			}
		})
	}
}

// race starts one Acquire per locker at once and returns the only winner, having checked
// that every other contender got a *HeldError naming it.
func race(t *testing.T, lockers []*HostsLocker) Lease {
	t.Helper()
	start := make(chan struct{})
	leases, errs := make([]Lease, len(lockers)), make([]error, len(lockers))
	var wg sync.WaitGroup
	for i, l := range lockers {
		wg.Go(func() {
			<-start
			leases[i], errs[i] = l.Acquire(context.Background(), Request{Who: who(fmt.Sprint("user", i))})
		})
	}
	close(start)
	wg.Wait()
	var winner Lease
	for i, lease := range leases {
		if lease != nil {
			require.Nil(t, winner, "two contenders hold the lock")
			winner = lease
			require.NoError(t, errs[i])
		}
	}
	require.NotNil(t, winner, "no contender got the lock: %v", errs)
	for i, err := range errs {
		if leases[i] == nil {
			requireHeld(t, err, winner.Holder().ID)
		}
	}
	return winner
}

func TestWaitGetsTheLockOnceTheHolderReleases(t *testing.T) {
	c := newCluster(t, 3, true)
	alice := acquire(t, c.locker(t), "alice")
	waiting := make(chan Holder, 4)
	var calls atomic.Int32
	type result struct {
		lease Lease
		err   error
	}
	got := make(chan result, 1)
	go func() {
		lease, err := c.locker(t, WithPollInterval(20*time.Millisecond)).Acquire(context.Background(), Request{
			Who: who("bob"), Wait: 10 * time.Second,
			OnWait: func(h Holder) { calls.Add(1); waiting <- h },
		})
		got <- result{lease, err}
	}()
	require.Equal(t, alice.Holder().ID, (<-waiting).ID, "OnWait names the holder")
	require.NoError(t, alice.Release(context.Background()))
	r := <-got
	require.NoError(t, r.err)
	defer r.lease.Release(context.Background())
	require.Equal(t, int32(1), calls.Load(), "OnWait is called once")
	require.Greater(t, r.lease.Epoch(), alice.Epoch())
}

func TestWaitGivesUpWhenWaitPasses(t *testing.T) {
	c := newCluster(t, 3, true)
	alice := acquire(t, c.locker(t), "alice")
	var calls atomic.Int32
	start := time.Now()
	_, err := c.locker(t, WithPollInterval(20*time.Millisecond)).Acquire(context.Background(), Request{
		Who: who("bob"), Wait: 150 * time.Millisecond, OnWait: func(Holder) { calls.Add(1) }})
	requireHeld(t, err, alice.Holder().ID)
	require.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)
	require.Equal(t, int32(1), calls.Load())
}

func TestReleaseThenAcquireRaisesTheEpochAndCollectsOldGenerations(t *testing.T) {
	c := newCluster(t, 3, true)
	l := c.locker(t)
	var last uint64
	for i := range 30 {
		lease := acquire(t, l, "alice")
		require.Greater(t, lease.Epoch(), last)
		if prev := lease.Previous(); i == 0 {
			require.Nil(t, prev, "the first holder has no predecessor")
		} else {
			require.NotNil(t, prev)
			require.False(t, prev.Expired, "the previous holder released it")
			require.Nil(t, prev.BrokenBy)
			require.Equal(t, last, prev.Holder.Epoch)
		}
		last = lease.Epoch()
		require.NoError(t, lease.Release(context.Background()))
		require.ErrorIs(t, lease.Check(), ErrReleased)
		c.advance(time.Second)
	}
	for i := range c.hosts {
		require.Len(t, c.records(t, i), 2, "host %d keeps the newest two generations", i)
	}
	st, err := l.Status(context.Background())
	require.NoError(t, err)
	require.Nil(t, st, "free after release")
}

func TestNamesStayShort(t *testing.T) {
	long := strings.Repeat("x", 300)
	c := newCluster(t, 3, true)
	l := c.lockerFor(t, "app-"+long, "env/"+long)
	lease := acquire(t, l, "alice")
	require.NoError(t, lease.Release(context.Background()))
	for i := range c.hosts {
		for _, r := range c.records(t, i) {
			require.LessOrEqual(t, len(r.Name), 64, r.Name)
			require.Regexp(t, `^[A-Za-z0-9._-]+$`, r.Name)
		}
	}
	longest := renewalName(l.prefix, 1<<63-1, 1<<63-1)
	require.Len(t, longest, 64)
	n, seq, renewal, ok := parseName(l.prefix, longest)
	require.Equal(t, []any{uint64(1<<63 - 1), uint64(1<<63 - 1), true, true}, []any{n, seq, renewal, ok})
	_, _, _, ok = parseName(l.prefix, genName(l.prefix, 1<<63-1)+"0")
	require.False(t, ok, "numbers past 2^63 would make names longer than 64")
}
