package lock

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/fake"
)

// base is the fake hosts' clock at the start of a test.
var base = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// cluster is n fake hosts named h1..hn, optionally on one shared fake clock.
type cluster struct {
	hosts []*fake.Host
	named []NamedRecords
	clock *fake.Clock
}

func newCluster(t *testing.T, n int, fakeClock bool) *cluster {
	t.Helper()
	c := &cluster{clock: fake.NewClock(base)}
	cloud := fake.NewCloud()
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("h%d", i)
		h := cloud.AddHost(manifest.HostSpec{Name: name, URL: "ssh://" + name}, manifest.Resources{})
		if fakeClock {
			h.SetClock(c.clock.Now)
		}
		c.hosts = append(c.hosts, h)
		c.named = append(c.named, NamedRecords{Name: name, Records: h})
	}
	return c
}

// advance moves the fake clock of every host forward.
func (c *cluster) advance(d time.Duration) { c.clock.Advance(d) }

func (c *cluster) locker(t *testing.T, opts ...Option) *HostsLocker {
	t.Helper()
	return c.lockerFor(t, "web", "production", opts...)
}

func (c *cluster) lockerFor(t *testing.T, app, env string, opts ...Option) *HostsLocker {
	t.Helper()
	l, err := NewHostsLocker(c.named, app, env, opts...)
	require.NoError(t, err)
	return l
}

// records lists host i's lock records (of every app), failing the test if it is down.
func (c *cluster) records(t *testing.T, i int) []providers.Record {
	t.Helper()
	recs, err := c.hosts[i].ListRecords(context.Background(), namePrefix)
	require.NoError(t, err)
	return recs
}

// topID is the holder id of the newest generation on host i ("" when none).
func (c *cluster) topID(t *testing.T, l *HostsLocker, i int) string {
	t.Helper()
	ch := parseChain(l.prefix, c.records(t, i))
	if ch.top == nil {
		return ""
	}
	return ch.top.id()
}

func who(user string) Holder {
	return Holder{User: user, Machine: "m-" + user, PID: 100, Command: "deck deploy", Why: "test"}
}

func acquire(t *testing.T, l *HostsLocker, user string) Lease {
	t.Helper()
	lease, err := l.Acquire(context.Background(), Request{Who: who(user)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = lease.Release(context.Background()) })
	return lease
}

// requireHeld asserts err is a *HeldError naming holder id.
func requireHeld(t *testing.T, err error, id string) *HeldError {
	t.Helper()
	var held *HeldError
	require.ErrorAs(t, err, &held)
	require.Equal(t, id, held.Holder.ID, "the holder named")
	return held
}

// waitFor polls cond until it holds, failing after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitLost waits for the lease's Lost channel to close.
func waitLost(t *testing.T, lease Lease, timeout time.Duration) {
	t.Helper()
	select {
	case <-lease.Lost():
	case <-time.After(timeout):
		t.Fatalf("lease not lost after %s (Check: %v)", timeout, lease.Check())
	}
}

// slowRecords delays every record call by up to max, so contenders interleave as they
// do over a network instead of running one after another.
type slowRecords struct {
	providers.Records
	max time.Duration
}

func (s slowRecords) pause() { time.Sleep(rand.N(s.max)) }

func (s slowRecords) CreateRecord(ctx context.Context, name string, labels map[string]string) error {
	s.pause()
	return s.Records.CreateRecord(ctx, name, labels)
}

func (s slowRecords) ListRecords(ctx context.Context, prefix string) ([]providers.Record, error) {
	s.pause()
	return s.Records.ListRecords(ctx, prefix)
}

func (s slowRecords) RemoveRecord(ctx context.Context, name string) error {
	s.pause()
	return s.Records.RemoveRecord(ctx, name)
}

func (s slowRecords) Now(ctx context.Context) (time.Time, error) {
	s.pause()
	return s.Records.Now(ctx)
}

// slowDown makes lockers made from now on see every host with up to max latency.
func (c *cluster) slowDown(max time.Duration) {
	for i := range c.named {
		c.named[i].Records = slowRecords{Records: c.hosts[i], max: max}
	}
}
