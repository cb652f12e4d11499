package pipeline

import (
	"context"
	"errors"
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
}

func (r *redialing) host(ctx context.Context) (providers.Host, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.h != nil {
		return r.h, nil
	}
	dctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	h, err := r.d.Dial(dctx, r.spec)
	if err != nil {
		return nil, err
	}
	r.h = h
	return h, nil
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
