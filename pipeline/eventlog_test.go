package pipeline

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers/fake"
	"github.com/deckhq/deck/providers/lock"
)

func messages(evs []LogEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Message
	}
	return out
}

// TestEventLogOrderAndSince: batches written at different times, and events of one instant
// within a batch, read back in time order, then batch order, then their order in the batch;
// every host holds every batch, so one host down loses nothing; since keeps only later
// events; another environment's events are not mixed in.
func TestEventLogOrderAndSince(t *testing.T) {
	r := newRig(t, 2)
	ctx := context.Background()
	at := time.Date(2026, 11, 21, 18, 0, 0, 0, time.UTC)
	l := NewEventLog(nil)
	l.Add(LogEvent{Time: at.Add(2 * time.Second), Kind: KindTaskHealthy, Message: "third"})
	l.Add(LogEvent{Time: at.Add(2 * time.Second), Kind: KindTaskStopped, Message: "fourth"})
	l.Add(LogEvent{Time: at, Kind: KindDeployStarted, Message: "first"})
	require.NoError(t, l.Flush(ctx, r.session(t)))
	assert.Zero(t, l.Pending())
	require.NoError(t, l.Flush(ctx, r.session(t)), "nothing pending writes nothing")
	require.NoError(t, AppendEvents(ctx, r.session(t), LogEvent{Time: at.Add(time.Second), Kind: KindTaskStarted, Message: "second"}))

	other := &manifest.Environment{Name: "staging", Hosts: r.env.Hosts}
	so, err := Open(ctx, Target{App: r.app, Env: other, Dialer: r.cloud})
	require.NoError(t, err)
	defer so.Close()
	require.NoError(t, AppendEvents(ctx, so, LogEvent{Time: at, Message: "staging's"}))

	r.cloud.Host("h1").SetDown(true)
	evs, err := ReadEventLog(ctx, r.session(t), time.Time{})
	require.NoError(t, err)
	assert.Equal(t, []string{"first", "second", "third", "fourth"}, messages(evs))

	evs, err = ReadEventLog(ctx, r.session(t), at.Add(time.Second))
	require.NoError(t, err)
	assert.Equal(t, []string{"third", "fourth"}, messages(evs), "strictly after since")
}

// TestEventLogIsTrimmedToItsSize: past EventLogSize events, each write removes the oldest
// batches, whole, keeping the newest EventLogSize events (and less than a batch more).
func TestEventLogIsTrimmedToItsSize(t *testing.T) {
	defer func(n int) { EventLogSize = n }(EventLogSize)
	EventLogSize = 10
	r := newRig(t, 2)
	ctx := context.Background()
	at := time.Date(2026, 11, 21, 18, 0, 0, 0, time.UTC)
	n := 0
	for batch := 0; batch < 8; batch++ {
		l := NewEventLog(nil)
		for i := 0; i < 3; i++ {
			n++
			l.Add(LogEvent{Time: at.Add(time.Duration(n) * time.Second), Message: fmt.Sprint(n)})
		}
		require.NoError(t, l.Flush(ctx, r.session(t)))
	}
	evs, err := ReadEventLog(ctx, r.session(t), time.Time{})
	require.NoError(t, err)
	// 24 events in batches of 3: the newest 4 batches hold the newest 10 (and 2 more).
	assert.Equal(t, strings.Fields("13 14 15 16 17 18 19 20 21 22 23 24"), messages(evs))
	for _, h := range []string{"h1", "h2"} {
		recs, err := r.cloud.Host(h).ListRecords(ctx, eventLogPrefix)
		require.NoError(t, err)
		assert.Len(t, recs, 4, h)
	}
}

// TestEventLogSplitsLargeBatches: a flush of more than maxBatch events is written as
// several records, read back whole and in order.
func TestEventLogSplitsLargeBatches(t *testing.T) {
	r := newRig(t, 1)
	ctx := context.Background()
	at := time.Date(2026, 11, 21, 18, 0, 0, 0, time.UTC)
	l := NewEventLog(nil)
	for i := 0; i < maxBatch*2+5; i++ {
		l.Add(LogEvent{Time: at.Add(time.Duration(i) * time.Millisecond), Message: fmt.Sprint(i), Kind: strings.Repeat("k", 1)})
	}
	l.Add(LogEvent{Time: at.Add(time.Hour), Message: strings.Repeat("x", 10000)})
	require.NoError(t, l.Flush(ctx, r.session(t)))
	recs, err := r.cloud.Host("h1").ListRecords(ctx, eventLogPrefix)
	require.NoError(t, err)
	assert.Len(t, recs, 3)
	evs, err := ReadEventLog(ctx, r.session(t), time.Time{})
	require.NoError(t, err)
	require.Len(t, evs, maxBatch*2+6)
	for i := 0; i < maxBatch*2+5; i++ {
		assert.Equal(t, fmt.Sprint(i), evs[i].Message)
	}
	assert.Len(t, evs[len(evs)-1].Message, maxMessage, "a long message is cut")
}

// TestDeployWritesItsEventsToTheLog: a deploy run with a Log gathers the lock taken, the
// deployment started, each task started and healthy, the steady state and the outcome,
// and writes nothing until it is flushed.
func TestDeployWritesItsEventsToTheLog(t *testing.T) {
	r := newRig(t, 2)
	ctx := context.Background()
	l := NewEventLog(nil)
	d := Deploy{Target: Target{App: r.app, Env: r.env, Services: []manifest.ServiceSpec{webService(2)}, Dialer: r.cloud}, Log: l}
	out, err := d.Run(ctx)
	require.NoError(t, err)
	defer out.Session.Close()
	recs, err := r.cloud.Host("h1").ListRecords(ctx, eventLogPrefix)
	require.NoError(t, err)
	assert.Empty(t, recs, "nothing written during the run")
	require.NoError(t, l.Flush(ctx, out.Session))
	evs, err := ReadEventLog(ctx, r.session(t), time.Time{})
	require.NoError(t, err)
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, e.Kind)
	}
	assert.Equal(t, []string{KindDeployStarted, KindTaskStarted, KindTaskStarted, KindTaskHealthy, KindTaskHealthy,
		KindSteady, KindDeployCompleted}, dedupeStarts(kinds), "%q", messages(evs))
	assert.Regexp(t, `^\(service web\) has started 1 tasks: \(task [0-9a-f]+\) on h\d\.$`, evs[1].Message)
	assert.Equal(t, "(service web) deployment of revision 1 completed.", evs[len(evs)-1].Message)
}

// dedupeStarts orders each run of task events by kind: two tasks' started and healthy
// events interleave as their hosts answer.
func dedupeStarts(kinds []string) []string {
	out := append([]string(nil), kinds...)
	rank := map[string]int{KindTaskStarted: 1, KindTaskHealthy: 2}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && rank[out[j]] > 0 && rank[out[j-1]] > 0 && rank[out[j]] < rank[out[j-1]]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// TestLockTakenSaysThePreviousLeaseExpiredOrWasBroken: a deploy that takes the lock after
// its holder was killed (its lease ran out on the hosts' clocks) says whose lease had
// expired; after a break, who broke whose; after a plain release, nothing more.
func TestLockTakenSaysThePreviousLeaseExpiredOrWasBroken(t *testing.T) {
	r := newRig(t, 3)
	ctx := context.Background()
	clock := fake.NewClock(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
	for _, h := range r.env.Hosts {
		r.cloud.Host(h.Name).SetClock(clock.Now)
	}
	s := r.session(t)
	locker, err := s.HostsLocker(lock.WithTTL(10*time.Second), lock.WithMargin(time.Second))
	require.NoError(t, err)
	alice := lock.Holder{User: "alice", Machine: "laptop", PID: 4242, Command: "deck deploy"}
	killed, kill := context.WithCancel(ctx)
	_, err = locker.Acquire(killed, lock.Request{Who: alice})
	require.NoError(t, err)
	kill() // as if SIGKILLed: no release, no more renewals
	clock.Advance(11 * time.Second)

	taken := func(svc manifest.ServiceSpec) string {
		t.Helper()
		l := NewEventLog(nil)
		d := Deploy{Target: Target{App: r.app, Env: r.env, Services: []manifest.ServiceSpec{svc}, Dialer: r.cloud}, Log: l,
			Lock: func(ctx context.Context, s *Session) (Lease, error) {
				return locker.Acquire(ctx, lock.Request{Who: lock.Holder{User: "bob", Machine: "ci", PID: 7}})
			}}
		out, err := d.Run(ctx)
		require.NoError(t, err)
		out.Session.Close()
		l.mu.Lock()
		defer l.mu.Unlock()
		require.NotEmpty(t, l.pending)
		require.Equal(t, KindLockTaken, l.pending[0].Kind)
		return l.pending[0].Message
	}
	assert.Regexp(t, `^The deploy lock was taken by a deploy \(epoch 2\); the previous holder's lease \(alice@laptop, pid 4242\) had expired\.$`,
		taken(webService(1)))
	assert.Equal(t, "The deploy lock was taken by a deploy (epoch 3).", taken(webService(2)),
		"the last deploy released it: nothing more to say")

	held, err := locker.Acquire(ctx, lock.Request{Who: alice})
	require.NoError(t, err)
	_, err = locker.Break(ctx, lock.Holder{User: "ops", Machine: "bastion", PID: 9})
	require.NoError(t, err)
	defer held.Release(ctx)
	assert.Equal(t, "The deploy lock was taken by a deploy (epoch 6); the previous holder's lease (alice@laptop, pid 4242) had been broken by ops@bastion, pid 9.",
		taken(webService(3)))
}
