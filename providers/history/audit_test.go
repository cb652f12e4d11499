package history

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/providers/lock"
)

func (c *cluster) locker(t *testing.T) *lock.HostsLocker {
	t.Helper()
	var named []lock.NamedRecords
	for _, h := range c.hosts {
		named = append(named, lock.NamedRecords{Name: h.Name(), Records: h})
	}
	l, err := lock.NewHostsLocker(named, "shop", "prod")
	require.NoError(t, err)
	return l
}

func holder(user, command string) lock.Holder {
	return lock.Holder{User: user, Machine: "m-" + user, PID: 7, Command: command}
}

// breakLock has bob take the lock and ops break it.
func (c *cluster) breakLock(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	_, err := c.locker(t).Acquire(ctx, lock.Request{Who: holder("bob", "deck deploy")})
	require.NoError(t, err)
	c.advance(5 * time.Second)
	broken, err := c.locker(t).Break(context.Background(), holder("ops", "deck lock release --force"))
	require.NoError(t, err)
	require.NotNil(t, broken)
}

func TestAuditInTimeOrderWithALockBreak(t *testing.T) {
	c := newCluster(t, 3)
	s := c.store()
	ctx := context.Background()
	create(t, s, rev("web", "img:1"))
	c.advance(time.Minute)
	require.NoError(t, s.Finish(ctx, "web", 1, Completed, ""))
	c.advance(time.Minute)
	create(t, s, rev("worker", "img:w1")) // never finished: in progress
	c.advance(time.Minute)
	c.breakLock(t) // at +3m5s
	c.advance(time.Minute)
	back := rev("web", "img:1")
	back.Kind, back.RollbackOf, back.Trigger = KindRollback, 1, "deck rollback --to 1"
	create(t, s, back)
	c.advance(time.Minute)
	require.NoError(t, s.Finish(ctx, "web", 2, Failed, "2 of 2 tasks failed their health check"))

	events, err := s.Audit(ctx)
	require.NoError(t, err)
	type line struct {
		At            time.Duration
		Kind, Service string
		Number        int
		Who, Text     string
	}
	var got []line
	for _, e := range events {
		got = append(got, line{e.Time.Sub(base), e.Kind, e.Service, e.Number, e.Who, e.Text})
	}
	assert.Equal(t, []line{
		{0, "deploy", "web", 1, "alice@laptop", `deck deploy; image img:1; commit 0123456 "Add a cart"`},
		{time.Minute, "completed", "web", 1, "alice@laptop", ""},
		{2 * time.Minute, "deploy", "worker", 1, "alice@laptop", `deck deploy; image img:w1; commit 0123456 "Add a cart"`},
		{3*time.Minute + 5*time.Second, "lock break", "", 0, "ops@m-ops",
			`broke the deploy lock held by bob@m-bob (pid 7), running "deck deploy", epoch 1 (deck lock release --force)`},
		{4*time.Minute + 5*time.Second, "rollback", "web", 2, "alice@laptop", `deck rollback --to 1; back to revision 1; image img:1; commit 0123456 "Add a cart"`},
		{5*time.Minute + 5*time.Second, "failed", "web", 2, "alice@laptop", "2 of 2 tasks failed their health check"},
	}, got)
}

// The lock forgets a break once the next holder releases; RecordBreak keeps it.
func TestRecordedBreaksOutliveTheLocksOwnRecord(t *testing.T) {
	c := newCluster(t, 3)
	s := c.store()
	ctx := context.Background()
	c.breakLock(t)
	last, err := c.locker(t).LastBreak(ctx)
	require.NoError(t, err)
	require.NoError(t, s.RecordBreak(ctx, *last))
	require.NoError(t, s.RecordBreak(ctx, *last), "recording it again changes nothing")

	for range 2 {
		lease, err := c.locker(t).Acquire(ctx, lock.Request{Who: holder("carol", "deck deploy")})
		require.NoError(t, err)
		require.NoError(t, lease.Release(ctx))
	}
	gone, err := c.locker(t).LastBreak(ctx)
	require.NoError(t, err)
	require.Nil(t, gone, "the lock no longer knows")

	events, err := s.Audit(ctx)
	require.NoError(t, err)
	require.Len(t, events, 1)
	assert.Equal(t, EventLockBreak, events[0].Kind)
	assert.Equal(t, "ops@m-ops", events[0].Who)
	assert.Equal(t, base.Add(5*time.Second), events[0].Time)
}

func TestAuditNeedsOneHost(t *testing.T) {
	c := newCluster(t, 2)
	s := c.store()
	create(t, s, rev("web", "img:1"))
	c.hosts[0].SetDown(true)
	events, err := s.Audit(context.Background())
	require.NoError(t, err, "one host of two answers: enough to read")
	assert.Len(t, events, 1)
	c.hosts[1].SetDown(true)
	_, err = s.Audit(context.Background())
	assert.ErrorContains(t, err, "no host answered")
}
