package leader

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"
)

// Etcd elects the leader with an etcd cluster: each campaign is a concurrency.Session
// (a lease with keep-alives) and an Election on the key prefix /deck/controller/APP/ENV/.
type Etcd struct {
	client   *clientv3.Client
	prefix   string
	who      string
	ttl      time.Duration
	margin   time.Duration
	log      *slog.Logger
	what     string
	life     context.Context
	shutdown context.CancelFunc
}

var _ Elector = (*Etcd)(nil)

// NewEtcd returns the etcd elector of app/env, a client of endpoints (http://HOST:PORT).
// It does not connect yet: Campaign and Leader do, and Campaign retries until it can.
func NewEtcd(endpoints []string, app, env string, o Options) (*Etcd, error) {
	o = o.withDefaults(app, env)
	if o.TTL < 2*time.Second {
		return nil, fmt.Errorf("etcd leader election: the TTL (%s) must be at least 2s, the shortest lease etcd grants by default", o.TTL)
	}
	// etcd's own logging would go to stderr beside the controller's structured log; its
	// errors reach the caller through Campaign's log and Check instead.
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("etcd leader election: %w", err)
	}
	life, shutdown := context.WithCancel(context.Background())
	return &Etcd{client: c, prefix: "/deck/controller/" + app + "/" + env + "/", who: o.Who.String(),
		ttl: o.TTL, margin: min(time.Second, o.TTL/5), log: o.Log,
		what: "the controller leadership of " + app + "/" + env + " (etcd)", life: life, shutdown: shutdown}, nil
}

// Campaign runs for leader: see Elector.
func (e *Etcd) Campaign(ctx context.Context) (Term, error) {
	tctx, won, end := campaignContext(ctx, e.life)
	var last error
	for {
		t, err := e.try(tctx, end)
		if err == nil && won() {
			return t, nil
		}
		if err == nil { // ctx ended as it won: hand the leadership back
			t.abandon()
		}
		if tctx.Err() != nil {
			end()
			return nil, campaignError(e.life, ctx, e.what, last)
		}
		last = err
		e.log.Warn("leader election: cannot campaign now; retrying", "err", err)
		_ = sleep(tctx, retryPause(e.ttl))
	}
}

// try is one campaign: a new lease (kept alive from the start, so it lasts through the
// wait), then the election. A campaign whose lease lapsed while it waited is given up:
// its key is gone, and waiting on would end in a term that is not held.
func (e *Etcd) try(ctx context.Context, end func()) (*etcdTerm, error) {
	t, err := e.candidate(ctx, end)
	if err != nil {
		return nil, err
	}
	el := concurrency.NewElection(t.session, e.prefix)
	cctx, cancel := context.WithCancel(ctx)
	go func() { // a lease lost while waiting ends the wait
		select {
		case <-t.lost:
			cancel()
		case <-cctx.Done():
		}
	}()
	err = el.Campaign(cctx, e.who)
	cancel()
	if err == nil {
		err = t.elected(ctx, el)
	}
	if err != nil {
		t.abandon()
		return nil, err
	}
	return t, nil
}

// candidate grants a lease of the TTL and starts keeping it alive.
func (e *Etcd) candidate(ctx context.Context, end func()) (*etcdTerm, error) {
	sent := time.Now() // before the grant: the lease cannot expire before sent+TTL
	// A try is bounded, so that an etcd that does not answer is logged and retried.
	gctx, cancel := context.WithTimeout(ctx, e.ttl)
	defer cancel()
	grant, err := e.client.Grant(gctx, int64(math.Ceil(e.ttl.Seconds())))
	if err != nil {
		return nil, fmt.Errorf("etcd: granting a lease: %w", err)
	}
	sctx, sstop := context.WithCancel(ctx)
	s, err := concurrency.NewSession(e.client, concurrency.WithLease(grant.ID), concurrency.WithContext(sctx))
	if err != nil {
		sstop()
		e.revoke(grant.ID)
		return nil, fmt.Errorf("etcd: starting a session: %w", err)
	}
	t := newEtcdTerm(e, s, sstop, end, sent, time.Duration(grant.TTL)*time.Second)
	go t.run(ctx)
	return t, nil
}

// revoke frees a lease at once (its key goes with it), even when the campaign's ctx is
// done; best effort: a lease not revoked expires by itself.
func (e *Etcd) revoke(id clientv3.LeaseID) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(e.life), e.ttl)
	defer cancel()
	_, _ = e.client.Revoke(ctx, id)
}

// Leader returns the value of the oldest key under the prefix: the leader's.
func (e *Etcd) Leader(ctx context.Context) (string, bool, error) {
	resp, err := e.client.Get(ctx, e.prefix, clientv3.WithFirstCreate()...)
	if err != nil {
		return "", false, fmt.Errorf("etcd: reading the leader: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return "", false, nil
	}
	return string(resp.Kvs[0].Value), true, nil
}

// Close abandons this elector's terms and closes the client: keep-alives stop, and the
// leases run out on etcd.
func (e *Etcd) Close() error {
	e.shutdown()
	return e.client.Close()
}
