// Package leader elects the one controller of an app/environment that acts: any number
// may run, one leads, the others wait as standbys and take over when it dies.
//
// Two backends, chosen by deck.yaml's controller.leader (manifest.ControllerSpec):
//
//   - hosts (the default, NewHosts): a lease kept on a majority of the environment's own
//     hosts, by providers/lock under a lock of its own ("controller leadership"), so
//     nothing else needs to run. Epochs are the lock's fencing epochs.
//   - etcd (NewEtcd): the etcd client's election (concurrency.Session and Election), for
//     teams that already run etcd: proven consensus rather than deck's own. Epochs are the
//     leader key's create revisions.
//
// Either way a term's lease is renewed every third of the TTL, a standby takes over at
// most about one TTL after the leader's last renewal (so within two TTLs of its death),
// and Term.Check starts failing a margin before the lease can have run out anywhere: a
// leader that was paused (SIGSTOP) or cut off finds Check failing before a standby can
// begin its term. Check before every write, and stamp Epoch on what is written.
package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers/lock"
)

// Elector campaigns for the leadership of one app/environment's controller.
type Elector interface {
	// Campaign blocks until this process leads, or ctx ends (or Close is called). It
	// keeps trying through errors (hosts or etcd unreachable), logging them. ctx bounds
	// the wait only: the term lasts until Resign, its loss, or Close.
	Campaign(ctx context.Context) (Term, error)
	// Leader says who leads now (for status and logs), if anyone.
	Leader(ctx context.Context) (who string, ok bool, err error)
	// Close stops the elector. A term still held is abandoned, not resigned: it stops
	// renewing and a standby takes over once its lease runs out.
	Close() error
}

// Term is one period of leadership.
type Term interface {
	// Epoch is the fencing token: strictly greater than every earlier term's.
	Epoch() uint64
	// Check returns nil while the lease is certainly still held; else why not (errors.Is
	// ErrLost, or ErrResigned). It fails before anyone else can take over.
	Check() error
	// Lost is closed when leadership ends: lost, or resigned.
	Lost() <-chan struct{}
	// Resign gives leadership up at once, so a standby need not wait for the lease.
	Resign(ctx context.Context) error
}

var (
	// ErrLost matches (errors.Is) every error Check returns for a lost term.
	ErrLost = errors.New("controller leadership lost")
	// ErrResigned is what Check returns after Resign.
	ErrResigned = errors.New("controller leadership resigned")
	// ErrClosed is what Campaign returns once Close was called.
	ErrClosed = errors.New("leader elector closed")
)

// lostError is a lost term: its message, and errors.Is ErrLost and its cause.
type lostError struct {
	msg   string
	cause error
}

func (e *lostError) Error() string   { return e.msg }
func (e *lostError) Unwrap() []error { return []error{ErrLost, e.cause} }

// Options tune an Elector; the zero value gives the defaults.
type Options struct {
	// TTL is the lease (default 15s). Renewals come every TTL/3.
	TTL time.Duration
	// Who describes this process to the others (default lock.Me("deck controller", ...)).
	Who lock.Holder
	// Log gets the errors Campaign retries through (default: none).
	Log *slog.Logger
	// HostTimeout bounds each call to one host (hosts backend; default 5s).
	HostTimeout time.Duration
}

// DefaultTTL is the lease when Options.TTL is zero, as deck.yaml's default.
const DefaultTTL = 15 * time.Second

func (o Options) withDefaults(app, env string) Options {
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	if o.Who == (lock.Holder{}) {
		o.Who = lock.Me("deck controller", "leads the controller of "+app+"/"+env)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.HostTimeout == 0 {
		o.HostTimeout = 5 * time.Second
	}
	return o
}

// New returns the elector deck.yaml's controller settings choose, with spec.Lease as the
// TTL unless o sets one. hosts are the environment's hosts (for the hosts backend; every
// controller must pass the same set).
func New(spec manifest.ControllerSpec, hosts []lock.NamedRecords, app, env string, o Options) (Elector, error) {
	if o.TTL == 0 {
		o.TTL = spec.Lease
	}
	if spec.Leader == manifest.LeaderEtcd {
		return NewEtcd(spec.Etcd.Endpoints, app, env, o)
	}
	return NewHosts(hosts, app, env, o)
}

// forever is how long a campaign waits for a holder to go: until its ctx ends.
const forever = 100 * 365 * 24 * time.Hour

// retryPause is how long Campaign waits after an error before it tries again.
func retryPause(ttl time.Duration) time.Duration { return min(time.Second, ttl/5) }

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// campaignContext is the context a campaign and then its term live in. It ends with
// life (Close), and with ctx until won is called; won reports whether it is still alive
// (ctx may have ended it just before). end ends it (Resign, or a campaign given up).
func campaignContext(ctx, life context.Context) (tctx context.Context, won func() bool, end func()) {
	tctx, cancel := context.WithCancel(life)
	var mu sync.Mutex
	isWon := false
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if !isWon {
			cancel()
		}
	})
	won = func() bool {
		mu.Lock()
		defer mu.Unlock()
		isWon = true
		stop()
		return tctx.Err() == nil
	}
	return tctx, won, func() { stop(); cancel() }
}

// campaignError says why Campaign gave up: Close, or ctx ended (with the last error seen,
// which says why it was still waiting).
func campaignError(life, ctx context.Context, what string, last error) error {
	if life.Err() != nil {
		return ErrClosed
	}
	if last != nil {
		return fmt.Errorf("campaigning for %s: %w (last error: %v)", what, ctx.Err(), last)
	}
	return fmt.Errorf("campaigning for %s: %w", what, ctx.Err())
}
