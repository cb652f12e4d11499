package leader

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/deckhq/deck/providers/lock"
)

// LockName names the leadership lock among an environment's locks: its records and
// messages ("controller leadership lock for shop/prod ...").
const LockName = "controller leadership"

// Hosts elects the leader with a lease kept on a majority of the environment's hosts
// (providers/lock, under LockName).
type Hosts struct {
	locker   *lock.HostsLocker
	who      lock.Holder
	ttl      time.Duration
	log      *slog.Logger
	what     string
	life     context.Context
	shutdown context.CancelFunc
}

var _ Elector = (*Hosts)(nil)

// NewHosts returns the hosts elector of app/env. hosts are the environment's hosts; every
// controller must pass the same set, or majorities stop meeting.
func NewHosts(hosts []lock.NamedRecords, app, env string, o Options) (*Hosts, error) {
	o = o.withDefaults(app, env)
	// The holder stops trusting its lease a third of the TTL (at most 2s) before the hosts
	// could expire it: their record times read to the second.
	l, err := lock.NewHostsLocker(hosts, app, env, lock.WithName(LockName), lock.WithTTL(o.TTL),
		lock.WithMargin(min(2*time.Second, o.TTL/3)), lock.WithPollInterval(retryPause(o.TTL)),
		lock.WithHostTimeout(o.HostTimeout))
	if err != nil {
		return nil, err
	}
	life, shutdown := context.WithCancel(context.Background())
	return &Hosts{locker: l, who: o.Who, ttl: o.TTL, log: o.Log, what: "the controller leadership of " + app + "/" + env,
		life: life, shutdown: shutdown}, nil
}

// Campaign waits for the leadership lock: see Elector.
func (h *Hosts) Campaign(ctx context.Context) (Term, error) {
	tctx, won, end := campaignContext(ctx, h.life)
	var last error
	for {
		lease, err := h.locker.Acquire(tctx, lock.Request{Who: h.who, Wait: forever})
		if err == nil && won() {
			return &hostsTerm{lease: lease, end: end}, nil
		}
		if err == nil { // ctx ended as it won: hand the lock back
			_ = lease.Release(context.WithoutCancel(ctx))
		}
		if tctx.Err() != nil {
			end()
			return nil, campaignError(h.life, ctx, h.what, last)
		}
		// Too few hosts answered: they may come back.
		last = err
		h.log.Warn("leader election: cannot campaign now; retrying", "err", err)
		_ = sleep(tctx, retryPause(h.ttl))
	}
}

// Leader names the live holder of the leadership lock.
func (h *Hosts) Leader(ctx context.Context) (string, bool, error) {
	holder, err := h.locker.Status(ctx)
	if err != nil || holder == nil {
		return "", false, err
	}
	return holder.String(), true, nil
}

// Close abandons the terms of this elector: they stop renewing and run out.
func (h *Hosts) Close() error {
	h.shutdown()
	return nil
}

// hostsTerm is a held leadership lock.
type hostsTerm struct {
	lease lock.Lease
	end   func() // ends the term's context, after Release
}

func (t *hostsTerm) Epoch() uint64         { return t.lease.Epoch() }
func (t *hostsTerm) Lost() <-chan struct{} { return t.lease.Lost() }

func (t *hostsTerm) Check() error {
	switch err := t.lease.Check(); {
	case err == nil:
		return nil
	case errors.Is(err, lock.ErrReleased):
		return ErrResigned
	default:
		return &lostError{msg: err.Error(), cause: err}
	}
}

// Resign releases the lock on the hosts, so a standby's next poll wins.
func (t *hostsTerm) Resign(ctx context.Context) error {
	defer t.end()
	return t.lease.Release(ctx)
}
