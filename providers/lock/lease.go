package lock

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/deckhq/deck/providers"
)

// hostLease is a lock held on a majority of hosts, renewed in the background.
type hostLease struct {
	l     *HostsLocker
	id    string
	epoch uint64
	prev  *Previous // who held the lock before, as read when it was taken

	mu     sync.Mutex
	holder Holder
	gens   map[int]uint64 // host index -> our generation there
	// sent is when the last write that reached a majority was sent. Every record of it was
	// created after sent, so no host expires the lock before sent+TTL: the lease is
	// trusted until sent+TTL-margin.
	sent time.Time
	err  error // why the lease ended; nil while held

	lost     chan struct{} // closed with err set
	stop     chan struct{} // closed by Release
	done     chan struct{} // closed when the renewer exits
	stopOnce sync.Once
}

var _ Lease = (*hostLease)(nil)

func (l *HostsLocker) newLease(ctx context.Context, who Holder, sent time.Time, won map[int]*providers.Record) *hostLease {
	ls := &hostLease{l: l, id: who.ID, epoch: who.Epoch, gens: map[int]uint64{}, sent: sent,
		lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	for i, rec := range won {
		ls.gens[i], _, _, _ = parseName(l.prefix, rec.Name)
		if who.Since.IsZero() || rec.Created.Before(who.Since) {
			who.Since = rec.Created
		}
	}
	who.Expires, who.Seen = who.Since.Add(who.TTL), who.Since
	ls.holder = who
	go ls.run(ctx)
	if l.opts.watch > 0 {
		go ls.watch(ctx)
	}
	return ls
}

func (ls *hostLease) Epoch() uint64         { return ls.epoch }
func (ls *hostLease) Previous() *Previous   { return ls.prev }
func (ls *hostLease) Lost() <-chan struct{} { return ls.lost }

func (ls *hostLease) Holder() Holder {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.holder
}

func (ls *hostLease) Check() error {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.err == nil && ls.leftLocked() <= 0 {
		o := ls.l.opts
		ls.endLocked(&LostError{Lock: ls.l.what, Cause: fmt.Sprintf("not renewed on a majority of hosts within %s (TTL %s minus a %s margin); someone else may have taken it",
			o.ttl-o.margin, o.ttl, o.margin)})
	}
	return ls.err
}

// leftLocked is how long the lease is still certainly held. It measures the time since
// sent on the monotonic clock (immune to clock steps) and on the wall clock (which, unlike
// Linux's monotonic clock, runs on while a laptop sleeps), and believes whichever says
// more time passed: a holder paused or asleep wakes up to a failing Check.
func (ls *hostLease) leftLocked() time.Duration {
	elapsed := max(time.Since(ls.sent), time.Now().Round(0).Sub(ls.sent.Round(0)))
	return ls.l.opts.ttl - ls.l.opts.margin - elapsed
}

func (ls *hostLease) left() time.Duration {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.leftLocked()
}

func (ls *hostLease) endLocked(err error) {
	if ls.err == nil {
		ls.err = err
		close(ls.lost)
	}
}

// run renews every renew interval (sooner after a failed round) until Release, the lease
// is lost, or ctx is done.
func (ls *hostLease) run(ctx context.Context) {
	defer close(ls.done)
	wait := ls.l.opts.renew
	for {
		t := time.NewTimer(min(wait, max(ls.left(), 0)))
		select {
		case <-ls.stop:
			t.Stop()
			return
		case <-ctx.Done():
			t.Stop()
			ls.runOut(ctx.Err())
			return
		case <-t.C:
		}
		if ls.Check() != nil {
			return
		}
		wait = ls.l.opts.renew
		if !ls.renew(ctx) {
			wait /= 3
		}
	}
}

// runOut ends the lease when it runs out, renewal having stopped (unless Release comes
// first): a cancelled deploy behaves like a killed one, whose lock expires.
func (ls *hostLease) runOut(cause error) {
	t := time.NewTimer(max(ls.left(), 0))
	defer t.Stop()
	select {
	case <-ls.stop:
	case <-t.C:
		ls.mu.Lock()
		ls.endLocked(&LostError{Lock: ls.l.what, Cause: fmt.Sprintf("renewal stopped (%v) and the lease ran out", cause)})
		ls.mu.Unlock()
	}
}

// Release stops renewal and frees the lock with a released generation above ours on each
// host where ours is the newest, so the next holder's epoch still exceeds ours.
func (ls *hostLease) Release(ctx context.Context) error {
	ls.stopOnce.Do(func() { close(ls.stop) })
	<-ls.done
	ls.mu.Lock()
	var le *LostError
	taken := errors.As(ls.err, &le) && le.By != nil
	again := errors.Is(ls.err, ErrReleased)
	if !taken {
		ls.endLocked(ErrReleased)
		ls.err = ErrReleased // also after running out: our records may still be the newest
	}
	h := ls.holder
	ls.mu.Unlock()
	if taken || again {
		return nil // nothing of ours to free
	}
	l := ls.l
	ok := make([]bool, len(l.hosts))
	each(len(l.hosts), func(i int) { ok[i] = ls.releaseOn(ctx, i, h) })
	if n := count(ok); n < l.quorum {
		var failed []string
		for i, done := range ok {
			if !done {
				failed = append(failed, l.hosts[i].Name)
			}
		}
		return fmt.Errorf("%s for %s/%s: released on only %d of %d hosts, cannot reach %s; it expires by itself within %s",
			l.what, l.app, l.env, n, len(l.hosts), strings.Join(failed, ", "), l.opts.ttl)
	}
	return nil
}

// releaseOn frees the lock on host i if ours is the newest generation there; it reports
// whether nothing of ours holds that host any more.
func (ls *hostLease) releaseOn(ctx context.Context, i int, h Holder) bool {
	c := ls.l.readOne(ctx, i)
	switch {
	case c.err != nil:
		return false
	case c.top == nil || c.top.id() != ls.id || c.top.released():
		return true
	}
	return ls.l.write(ctx, i, c.top.n+1, ls.l.releaseLabels(h)) != nil
}
