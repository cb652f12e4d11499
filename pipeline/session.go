// Package pipeline is deck's deploy pipeline below the CLI: connect to an environment's
// hosts once, resolve images and secrets, read what runs (with each task's health), plan,
// take the deploy lock, recheck and apply. It takes plain values (manifests, a dialer,
// callbacks), so `deck deploy`, `deck delete`, `deck status` and the controller share
// every step and none re-implements one.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner/state"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/lb"
)

// Target is what a session works on.
type Target struct {
	App *manifest.App
	Env *manifest.Environment
	// Services are the desired services (nil for commands that need none).
	Services []manifest.ServiceSpec
	Dialer   providers.Dialer
	// HostTimeout bounds connecting to and each read of one host (default 10s): a host
	// that does not answer within it is unreachable.
	HostTimeout time.Duration
	// OpenBalancer reaches the environment's load balancers (nil: an environment with
	// load balancers cannot be planned).
	OpenBalancer OpenBalancer
	// ReadDesired has OpenRead read the desired-state records too, on each host as soon
	// as it is connected, beside its tasks: a deploy needs them (the counts the autoscaler
	// set, and the settings to compare) and would otherwise read every host again after.
	ReadDesired bool
}

// Session holds one connection per host for a whole command, and what was last read.
type Session struct {
	T     Target
	Fleet *providers.Fleet
	Obs   *providers.Observation
	Snap  *state.Snapshot
	// Health is what the last read's probe saw of each task, by state.TaskID.
	Health map[string]state.TaskHealth
	// Balancers are the environment's load balancers, in its order (nil entries could
	// not be opened; see Obs.Balancers for why).
	Balancers []lb.Balancer
	lbObs     []providers.BalancerObservation // what was last read of each
	// Amend, when set, is called after every read of the hosts, before the snapshot is
	// made: the controller puts back the last-seen tasks of hosts that stopped answering,
	// judges health by its own probe streaks, and names the hosts in grace (Grace).
	Amend func(*Session)
	// Grace and GraceUnknown are passed to the planner (planner.Options).
	Grace        []string
	GraceUnknown bool
	// Dialable, when set, says which unreachable hosts Refresh dials again.
	Dialable func(host string) bool
	// records are the desired-state records OpenRead read (Target.ReadDesired) by host,
	// and why a host's could not be read; nil when none were read or a later read of the
	// hosts made them old.
	records *hostRecords
	// epoch is the newest deploy-lock epoch a lease taken for this session had (SetEpoch):
	// the records it writes carry it, so that the newest write wins on read whichever hosts
	// each write reached (recordOrder).
	epoch atomic.Uint64
}

// SetEpoch notes the epoch of a deploy lock taken to write through the session.
func (s *Session) SetEpoch(epoch uint64) {
	for {
		cur := s.epoch.Load()
		if epoch <= cur || s.epoch.CompareAndSwap(cur, epoch) {
			return
		}
	}
}

// hostRecords are the desired-state records read from each host.
type hostRecords struct {
	mu   sync.Mutex
	recs map[string][]providers.Record
	errs []error
}

// Open connects to every host of the environment, concurrently. Hosts that do not answer
// are marked unreachable; Open itself fails only when it cannot start.
func Open(ctx context.Context, t Target) (*Session, error) {
	if t.Dialer == nil {
		return nil, errors.New("pipeline: no dialer")
	}
	setHostTimeout(&t)
	s := &Session{T: t}
	s.Fleet, s.Obs = providers.Connect(ctx, t.Dialer, t.Env.Hosts, t.App.Name, t.Env.Name)
	return s, nil
}

// OpenRead connects to every host and reads it (its tasks and their health), each host as
// soon as it is connected: the unix hosts' reads do not wait for an ssh handshake.
func OpenRead(ctx context.Context, t Target) (*Session, error) {
	if t.Dialer == nil {
		return nil, errors.New("pipeline: no dialer")
	}
	setHostTimeout(&t)
	s := &Session{T: t}
	pr := newProber(0)
	s.initBalancers()
	// A balancer is read as soon as its host is connected, alongside that host's probes.
	var lbRead sync.WaitGroup
	var recs *hostRecords
	if t.ReadDesired {
		recs = &hostRecords{recs: map[string][]providers.Record{}}
	}
	s.Fleet, s.Obs = providers.ConnectEach(ctx, t.Dialer, t.Env.Hosts, t.App.Name, t.Env.Name, true,
		func(h providers.Host, ho *providers.HostObservation) {
			lbRead.Add(1)
			go func() {
				defer lbRead.Done()
				s.readBalancersOn(ctx, h)
			}()
			if recs != nil {
				lbRead.Add(1)
				go func() {
					defer lbRead.Done()
					recs.read(ctx, h)
				}()
			}
			pr.host(ctx, h, ho)
		})
	lbRead.Wait()
	s.records = recs
	s.Health = pr.seen
	if len(t.Env.LoadBalancers) > 0 {
		s.Obs.Balancers = s.lbObs
	}
	if err := s.load(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func setHostTimeout(t *Target) {
	if t.HostTimeout <= 0 {
		t.HostTimeout = providers.DialTimeout
	}
	// Written only when it changes: a second session opened while another one reads its
	// hosts (deck logs --follow beside a deploy in one process) does not race with it.
	if providers.DialTimeout != t.HostTimeout {
		providers.DialTimeout = t.HostTimeout
	}
}

// Close closes every connection.
func (s *Session) Close() {
	s.closeBalancers()
	if s.Fleet != nil {
		_ = s.Fleet.Close()
	}
}

// Read lists deck's tasks on every host through the open connections, probes the health
// of the running ones, and loads it all into a fresh snapshot.
func (s *Session) Read(ctx context.Context) error {
	s.records = nil
	providers.ListTasks(ctx, s.Fleet, s.Obs)
	s.Health = probeAll(ctx, s.Fleet, s.Obs)
	s.readBalancers(ctx)
	return s.load()
}

// Refresh dials the hosts that were unreachable again, then reads every host (Read):
// a long-running session's view of a fleet whose hosts come and go. A balancer on a host
// that came back is opened again through its new connection.
func (s *Session) Refresh(ctx context.Context) error {
	for _, name := range providers.Redial(ctx, s.T.Dialer, s.Fleet, s.Obs, s.Dialable) {
		for i, spec := range s.T.Env.LoadBalancers {
			if spec.Host == name && s.Balancers != nil && s.Balancers[i] != nil {
				_ = s.Balancers[i].Close()
				s.Balancers[i] = nil
			}
		}
	}
	return s.Read(ctx)
}

// MarkUnreachable takes a host the caller knows is gone out of the session: reads skip it
// (instead of waiting out their timeout) until Refresh dials it again.
func (s *Session) MarkUnreachable(host string, err error) {
	providers.MarkUnreachable(s.Fleet, s.Obs, host, err)
}

// ReadCapacity reads the hosts' capacity (only needed when a plan places tasks).
func (s *Session) ReadCapacity(ctx context.Context) error {
	providers.ReadCapacity(ctx, s.Fleet, s.Obs)
	return s.load()
}

func (s *Session) load() error {
	if s.Amend != nil {
		s.Amend(s)
	}
	store, err := state.Load(s.Obs, s.Health)
	if err != nil {
		return err
	}
	s.Snap = store.Snapshot()
	return nil
}

// Reachable counts the hosts that answered.
func (s *Session) Reachable() int {
	n := 0
	for _, h := range s.Obs.Hosts {
		if h.Reachable {
			n++
		}
	}
	return n
}

// Describe says in a few words what the hosts look like now.
func (s *Session) Describe() string {
	running := 0
	for _, h := range s.Obs.Hosts {
		for _, t := range h.Tasks {
			if t.Running() {
				running++
			}
		}
	}
	return fmt.Sprintf("%d of %d hosts reachable, %d tasks running", s.Reachable(), len(s.Obs.Hosts), running)
}

// List lists the hosts' tasks again, without probing them: enough to tell whether they
// changed since the plan (the fingerprint leaves health out).
func (s *Session) List(ctx context.Context) error {
	s.records = nil
	providers.ListTasks(ctx, s.Fleet, s.Obs)
	return s.load()
}

// Endpoint is address:published port of a task's service port on its host, or "".
func (s *Session) Endpoint(t providers.Task) string {
	for _, h := range s.Obs.Hosts {
		if h.Spec.Name == t.Host {
			return t.Address(h.Spec.Address)
		}
	}
	return ""
}
