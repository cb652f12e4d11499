package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/lock"
)

// LockHosts are the records of every host of the environment, for the deploy lock and
// the controller's leader lease: every host takes part (an unreachable one answers with
// its error), so a majority is always of the same set.
func (s *Session) LockHosts() []lock.NamedRecords {
	var hosts []lock.NamedRecords
	for _, h := range s.Obs.Hosts {
		var rec providers.Records = unreachable{h.Err}
		if c := s.Fleet.Host(h.Spec.Name); c != nil {
			rec = c
		}
		hosts = append(hosts, lock.NamedRecords{Name: h.Spec.Name, Records: rec})
	}
	return hosts
}

// HostsLocker is the deploy lock of the session's app and environment, on its hosts.
func (s *Session) HostsLocker(opts ...lock.Option) (*lock.HostsLocker, error) {
	return lock.NewHostsLocker(s.LockHosts(), s.T.App.Name, s.T.Env.Name, opts...)
}

// unreachable is a host that did not answer when the session connected.
type unreachable struct{ err error }

func (u unreachable) cause() error {
	if u.err == nil {
		return errors.New("unreachable")
	}
	return u.err
}
func (u unreachable) CreateRecord(context.Context, string, map[string]string) error { return u.cause() }
func (u unreachable) ListRecords(context.Context, string) ([]providers.Record, error) {
	return nil, u.cause()
}
func (u unreachable) RemoveRecord(context.Context, string) error { return u.cause() }
func (u unreachable) Now(context.Context) (time.Time, error)     { return time.Time{}, u.cause() }

// DialRecords are the records of every host of the environment for a holder that lives
// longer than one command (the controller's leader lease): each host is dialled when
// first needed and again after its connection failed, so a host that restarts its Podman
// service, or returns from a network cut, takes part again.
func DialRecords(t Target) []lock.NamedRecords {
	setHostTimeout(&t)
	var out []lock.NamedRecords
	for _, spec := range t.Env.Hosts {
		out = append(out, lock.NamedRecords{Name: spec.Name, Records: &redialing{d: t.Dialer, spec: spec, timeout: t.HostTimeout}})
	}
	return out
}

// redialing is one host's records through a connection made on demand.
type redialing struct {
	d       providers.Dialer
	spec    manifest.HostSpec
	timeout time.Duration
	mu      sync.Mutex
	h       providers.Host
	dialing chan struct{} // closed when the dial under way ends; nil when none is
	err     error         // the last dial's error
}

// host returns the connection, dialling when there is none. One dial at a time, in the
// background: a caller waits for it only as long as its ctx allows, so a host that does
// not answer (an ssh handshake that hangs) never holds up the other hosts' calls.
func (r *redialing) host(ctx context.Context) (providers.Host, error) {
	r.mu.Lock()
	if r.h != nil {
		h := r.h
		r.mu.Unlock()
		return h, nil
	}
	if r.dialing == nil {
		r.dialing = make(chan struct{})
		go r.dial(r.dialing)
	}
	done := r.dialing
	r.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: connecting to host %s: %v", providers.ErrUnreachable, r.spec.Name, ctx.Err())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.h == nil {
		return nil, r.err
	}
	return r.h, nil
}

func (r *redialing) dial(done chan struct{}) {
	dctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	h, err := r.d.Dial(dctx, r.spec)
	r.mu.Lock()
	r.h, r.err, r.dialing = h, err, nil
	r.mu.Unlock()
	close(done)
}

// done drops the connection after an error that says the host did not answer.
func (r *redialing) done(h providers.Host, err error) error {
	if err != nil && errors.Is(err, providers.ErrUnreachable) {
		r.mu.Lock()
		if r.h == h {
			_ = h.Close()
			r.h = nil
		}
		r.mu.Unlock()
	}
	return err
}

func (r *redialing) CreateRecord(ctx context.Context, name string, labels map[string]string) error {
	h, err := r.host(ctx)
	if err != nil {
		return err
	}
	return r.done(h, h.CreateRecord(ctx, name, labels))
}

func (r *redialing) ListRecords(ctx context.Context, prefix string) ([]providers.Record, error) {
	h, err := r.host(ctx)
	if err != nil {
		return nil, err
	}
	recs, err := h.ListRecords(ctx, prefix)
	return recs, r.done(h, err)
}

func (r *redialing) RemoveRecord(ctx context.Context, name string) error {
	h, err := r.host(ctx)
	if err != nil {
		return err
	}
	return r.done(h, h.RemoveRecord(ctx, name))
}

func (r *redialing) Now(ctx context.Context) (time.Time, error) {
	h, err := r.host(ctx)
	if err != nil {
		return time.Time{}, err
	}
	now, err := h.Now(ctx)
	return now, r.done(h, err)
}
