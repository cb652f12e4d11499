package lock

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/providers"
)

// lateRenewals holds back a renewal round of n hosts: once armed, the first renewal
// record waits until every host was read, then runs hook; the other renewals wait for
// hook (sync.Once), so all of them land after it.
type lateRenewals struct {
	n     int32
	armed atomic.Bool
	lists atomic.Int32
	read  sync.WaitGroup
	once  sync.Once
	hook  func()
}

func (g *lateRenewals) arm() { g.read.Add(int(g.n)); g.armed.Store(true) }

type lateRecords struct {
	providers.Records
	g *lateRenewals
}

func (r lateRecords) ListRecords(ctx context.Context, prefix string) ([]providers.Record, error) {
	recs, err := r.Records.ListRecords(ctx, prefix)
	if r.g.armed.Load() && r.g.lists.Add(1) <= r.g.n {
		r.g.read.Done()
	}
	return recs, err
}

func (r lateRecords) CreateRecord(ctx context.Context, name string, labels map[string]string) error {
	if r.g.armed.Load() && strings.Contains(name, ".r") {
		r.g.once.Do(func() { r.g.read.Wait(); r.g.hook() })
	}
	return r.Records.CreateRecord(ctx, name, labels)
}

// A renewal read while the lock was live but landing after the host's clock passed the
// TTL does not count: a contender that read in between judged the lock free.
func TestLateRenewalDoesNotCount(t *testing.T) {
	c := newCluster(t, 3, true)
	opts := []Option{WithTTL(5 * time.Second), WithMargin(100 * time.Millisecond), WithRenewInterval(4 * time.Second)}
	bob := c.locker(t, opts...)
	var bobSaw *Holder
	g := &lateRenewals{n: 3, hook: func() {
		c.advance(6 * time.Second)
		bobSaw = liveHolder(bob.readAll(context.Background()))
	}}
	late := make([]NamedRecords, len(c.named))
	for i, h := range c.named {
		late[i] = NamedRecords{Name: h.Name, Records: lateRecords{Records: h.Records, g: g}}
	}
	l, err := NewHostsLocker(late, "web", "production", opts...)
	require.NoError(t, err)
	alice := acquire(t, l, "alice").(*hostLease)

	g.arm()
	require.False(t, alice.renew(context.Background()), "the late renewal counts")
	require.Nil(t, bobSaw, "bob read the lock as free before alice's renewal landed")
	bobs := acquire(t, bob, "bob")
	require.Greater(t, bobs.Epoch(), alice.Epoch())
}
