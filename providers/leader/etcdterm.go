package leader

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// etcdTerm is a campaign's lease and, once elected, the term it holds.
//
// The lease is renewed by this term's own keep-alives (KeepAliveOnce every TTL/3), not
// only by the session's: a keep-alive sent at t, if etcd took it, keeps the lease until
// at least t+TTL, so the time it was sent bounds the lease, whenever its answer comes. A
// keep-alive's answer read late, after a SIGSTOP, must not make the lease look fresh.
type etcdTerm struct {
	e       *Etcd
	session *concurrency.Session
	sstop   func() // stops the session's own keep-alives
	end     func() // ends Campaign's term context, after Resign
	renew   time.Duration

	epoch uint64 // set once elected, before the term is handed out

	mu   sync.Mutex
	sent time.Time     // when the newest keep-alive that etcd took was sent
	ttl  time.Duration // the TTL etcd granted
	err  error         // why the term ended; nil while held

	lost      chan struct{} // closed with err set
	stop      chan struct{} // closed by Resign or abandon
	done      chan struct{} // closed when the renewer exits
	unwatch   func()        // stops the leader key's watch (under mu)
	stopOnce  sync.Once
	freeOnce  sync.Once
	freeError error
}

func newEtcdTerm(e *Etcd, s *concurrency.Session, sstop, end func(), sent time.Time, ttl time.Duration) *etcdTerm {
	return &etcdTerm{e: e, session: s, sstop: sstop, end: end, renew: ttl / 3, sent: sent, ttl: ttl,
		lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{}), unwatch: func() {}}
}

func (t *etcdTerm) Epoch() uint64         { return t.epoch }
func (t *etcdTerm) Lost() <-chan struct{} { return t.lost }

func (t *etcdTerm) Check() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err == nil && t.leftLocked() <= 0 {
		t.loseLocked(fmt.Sprintf("no keep-alive reached etcd within %s (TTL %s minus a %s margin); a standby may take over",
			t.ttl-t.e.margin, t.ttl, t.e.margin))
	}
	return t.err
}

// leftLocked is how long the lease is certainly held: by the monotonic clock, and by the
// wall clock (which runs on while a machine sleeps), whichever says more time passed.
func (t *etcdTerm) leftLocked() time.Duration {
	elapsed := max(time.Since(t.sent), time.Now().Round(0).Sub(t.sent.Round(0)))
	return t.ttl - t.e.margin - elapsed
}

func (t *etcdTerm) left() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.leftLocked()
}

// loseLocked ends the term as lost and frees its lease in the background: the session's
// keep-alives might otherwise keep it, and the standbys waiting, after this term gave up.
func (t *etcdTerm) loseLocked(cause string) {
	if t.err != nil {
		return
	}
	t.err = &lostError{msg: t.e.what + " lost: " + cause, cause: errors.New(cause)}
	close(t.lost)
	go func() { _ = t.free(context.Background()) }()
}

func (t *etcdTerm) lose(cause string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.loseLocked(cause)
}

// run keeps the lease alive until the term ends, stop is closed or ctx is done.
func (t *etcdTerm) run(ctx context.Context) {
	defer close(t.done)
	wait := t.renew
	for {
		timer := time.NewTimer(min(wait, max(t.left(), 0)))
		select {
		case <-t.stop:
			timer.Stop()
			return
		case <-ctx.Done():
			timer.Stop()
			t.runOut(ctx.Err())
			return
		case <-timer.C:
		}
		if t.Check() != nil {
			return
		}
		wait = t.renew
		if !t.keepAlive(ctx) {
			wait /= 3 // try again soon, while the lease lasts
		}
	}
}

// keepAlive sends one keep-alive and reports whether etcd took it.
func (t *etcdTerm) keepAlive(ctx context.Context) bool {
	sent := time.Now()
	ctx, cancel := context.WithTimeout(ctx, max(t.left(), time.Millisecond))
	defer cancel()
	resp, err := t.e.client.KeepAliveOnce(ctx, t.session.Lease())
	if errors.Is(err, rpctypes.ErrLeaseNotFound) {
		t.lose("the lease expired on etcd")
		return false
	}
	if err != nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err == nil && sent.After(t.sent) {
		t.sent, t.ttl = sent, time.Duration(resp.TTL)*time.Second
	}
	return true
}

// runOut ends the term when its lease runs out, renewal having stopped with ctx: a
// controller whose context ended behaves like a killed one.
func (t *etcdTerm) runOut(cause error) {
	timer := time.NewTimer(max(t.left(), 0))
	defer timer.Stop()
	select {
	case <-t.stop:
	case <-timer.C:
		t.lose(fmt.Sprintf("renewal stopped (%v) and the lease ran out", cause))
	}
}

// elected checks that the campaign's key is still there, made by this lease (its lease
// may have lapsed while it waited), takes its create revision as the epoch, and watches
// it: a key deleted under the term (by hand) ends it.
func (t *etcdTerm) elected(ctx context.Context, el *concurrency.Election) error {
	resp, err := t.e.client.Get(ctx, el.Key())
	if err != nil {
		return fmt.Errorf("etcd: reading the leader key: %w", err)
	}
	if len(resp.Kvs) == 0 || resp.Kvs[0].CreateRevision != el.Rev() || clientv3.LeaseID(resp.Kvs[0].Lease) != t.session.Lease() {
		return errors.New("etcd: the campaign's key is gone (its lease lapsed while it waited)")
	}
	if err := t.Check(); err != nil {
		return err
	}
	t.epoch = uint64(el.Rev())
	wctx, cancel := context.WithCancel(ctx)
	t.mu.Lock()
	t.unwatch = cancel
	ended := t.err != nil // and freed, or being freed: with the old unwatch
	t.mu.Unlock()
	if ended {
		cancel()
	}
	wch := t.e.client.Watch(clientv3.WithRequireLeader(wctx), el.Key(), clientv3.WithRev(el.Rev()+1))
	go func() {
		for wr := range wch {
			for _, ev := range wr.Events {
				if ev.Type == mvccpb.DELETE {
					t.lose("the leader key was deleted")
				}
			}
		}
	}()
	return nil
}

// free stops the keep-alives and revokes the lease, which deletes the leader key, so a
// standby's campaign ends at once. Once only; later calls return the first's error.
func (t *etcdTerm) free(ctx context.Context) error {
	t.freeOnce.Do(func() {
		t.mu.Lock()
		unwatch := t.unwatch
		t.mu.Unlock()
		unwatch()
		t.sstop()
		t.session.Orphan()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.ttl)
		defer cancel()
		_, err := t.e.client.Revoke(ctx, t.session.Lease())
		if err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
			t.freeError = fmt.Errorf("etcd: revoking the leader's lease: %w; it expires within %s", err, t.ttl)
		}
	})
	return t.freeError
}

// halt stops renewal and ends the term as resigned unless it was lost already.
func (t *etcdTerm) halt() {
	t.stopOnce.Do(func() { close(t.stop) })
	<-t.done
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err == nil {
		t.err = ErrResigned
		close(t.lost)
	}
}

// Resign revokes the lease: the leader key goes, and a standby's campaign ends at once.
func (t *etcdTerm) Resign(ctx context.Context) error {
	defer t.end()
	t.halt()
	return t.free(ctx)
}

// abandon gives up a campaign that did not lead, leaving Campaign's context alone.
func (t *etcdTerm) abandon() {
	t.halt()
	_ = t.free(context.Background())
}
