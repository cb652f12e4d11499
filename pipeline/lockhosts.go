package pipeline

import (
	"context"
	"errors"
	"time"

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
