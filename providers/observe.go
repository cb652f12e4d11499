package providers

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers/lb"
)

// HostObservation is what was seen on one host.
type HostObservation struct {
	Spec      manifest.HostSpec
	Reachable bool
	Err       error // why it is unreachable
	Info      HostInfo
	// InfoUnread is true while Info was not read (Connect without ReadCapacity): see Capacity.
	InfoUnread bool
	// Tasks are the containers of the observed app and environment.
	Tasks []Task
	// OtherUsed is what the running tasks of deck's other apps and environments on the
	// host take: it is not free for this one.
	OtherUsed manifest.Resources
}

// Capacity is the host's capacity available to deck: the configured capacity when set,
// else what the host reported, minus reservations and what the running tasks of deck's
// other apps and environments take (deck sees those through their labels; anything else
// on the host is for reservations to cover). known is false when the host's capacity was
// not read (connected and listed, but no ReadCapacity, and no configured capacity): nothing may be placed on it until
// it is (the planner refuses, see planner.ErrCapacityUnknown).
func (h HostObservation) Capacity() (c manifest.Resources, known bool) {
	c = h.Info.Capacity
	if h.Spec.Capacity != nil {
		c = *h.Spec.Capacity
	} else if h.InfoUnread {
		return manifest.Resources{}, false
	}
	c.CPU -= h.Spec.Reserved.CPU + h.OtherUsed.CPU
	c.Memory -= h.Spec.Reserved.Memory + h.OtherUsed.Memory
	return c, true
}

// Observation is what was seen on every host of an environment.
type Observation struct {
	App, Env string
	Hosts    []HostObservation // in the order the environment lists them
	// Balancers is what each of the environment's load balancers holds for app/env.
	Balancers []BalancerObservation
}

// BalancerObservation is what was read from one load balancer.
type BalancerObservation struct {
	Spec      manifest.LoadBalancerSpec
	Reachable bool
	Err       error // why its admin API could not be read
	// Routes are its routes of the observed app and environment, by service.
	Routes map[string]lb.Route
	// Neighbours are the routes of other apps and environments on its listener, when the
	// balancer can say (lb.NeighbourReader).
	Neighbours []lb.Route
}

// Fleet holds the open connections to an environment's reachable hosts.
type Fleet struct {
	mu    sync.Mutex
	hosts map[string]Host
}

// Host returns the connection to the named host, or nil when it is unreachable.
func (f *Fleet) Host(name string) Host {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hosts[name]
}

// Names lists the connected hosts, sorted.
func (f *Fleet) Names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, 0, len(f.hosts))
	for n := range f.hosts {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Close closes every connection.
func (f *Fleet) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, h := range f.hosts {
		_ = h.Close()
	}
	f.hosts = map[string]Host{}
	return nil
}

// NewFleet wraps already connected hosts (used by tests and by Observe).
func NewFleet(hosts ...Host) *Fleet {
	f := &Fleet{hosts: map[string]Host{}}
	for _, h := range hosts {
		f.hosts[h.Name()] = h
	}
	return f
}

// DialTimeout bounds connecting to and reading one host, so one dead host cannot hold up
// the others. The Podman provider also notices a dead ssh connection within it (its
// keepalive), so later calls on that host fail at once instead of each waiting it out.
var DialTimeout = 10 * time.Second

// ErrUnreachable is wrapped by the errors of a host that did not answer (no connection, no
// answer before the deadline, the connection lost mid-call), as opposed to a host that
// answered with an error. The message reads "unreachable: WHY".
var ErrUnreachable = errors.New("unreachable")

// Observe connects to every host concurrently, reads its capacity and deck's containers of
// app/env, and returns the open connections with what was seen. A host that cannot be
// reached is reported as unreachable, not as an error.
func Observe(ctx context.Context, d Dialer, specs []manifest.HostSpec, app, env string) (*Fleet, *Observation) {
	fleet, obs := Connect(ctx, d, specs, app, env)
	ReadCapacity(ctx, fleet, obs)
	ListTasks(ctx, fleet, obs)
	return fleet, obs
}

// Connect dials every host concurrently, each within DialTimeout, and returns the open
// connections; the observation marks the hosts that did not answer. Nothing is listed
// yet: one command connects once and lists as often as it needs (ListTasks).
func Connect(ctx context.Context, d Dialer, specs []manifest.HostSpec, app, env string) (*Fleet, *Observation) {
	return ConnectEach(ctx, d, specs, app, env, false, nil)
}

// ConnectEach is Connect that, when list is set, also lists each host's tasks as soon as
// that host is connected, and then calls then (when not nil) on that host's goroutine, so
// the work that follows a host's listing (probing its tasks) does not wait for the
// slowest host's handshake. then must be safe to call concurrently.
func ConnectEach(ctx context.Context, d Dialer, specs []manifest.HostSpec, app, env string, list bool,
	then func(h Host, ho *HostObservation)) (*Fleet, *Observation) {
	obs := &Observation{App: app, Env: env, Hosts: make([]HostObservation, len(specs))}
	fleet := NewFleet()
	forEach(len(specs), func(i int) {
		ho := &obs.Hosts[i]
		*ho = HostObservation{Spec: specs[i], InfoUnread: true}
		hctx, cancel := context.WithTimeout(ctx, DialTimeout)
		defer cancel()
		h, err := d.Dial(hctx, specs[i])
		if err != nil {
			ho.Err = err
			return
		}
		ho.Reachable = true
		fleet.mu.Lock()
		fleet.hosts[specs[i].Name] = h
		fleet.mu.Unlock()
		if list && listHost(hctx, fleet, h, ho, obs) && then != nil {
			then(h, ho)
		}
	})
	return fleet, obs
}

// ListTasks lists deck's containers on every connected host of obs concurrently, through
// fleet, replacing what an earlier listing saw. Each host's tasks are a new slice, never
// the last listing's changed in place: a caller may keep a listing (the controller does). A host that fails to answer becomes
// unreachable (its connection is closed).
func ListTasks(ctx context.Context, fleet *Fleet, obs *Observation) {
	forEach(len(obs.Hosts), func(i int) {
		ho := &obs.Hosts[i]
		h := fleet.Host(ho.Spec.Name)
		if !ho.Reachable || h == nil {
			return
		}
		hctx, cancel := context.WithTimeout(ctx, DialTimeout)
		defer cancel()
		listHost(hctx, fleet, h, ho, obs)
	})
}

// listHost lists one host's tasks into ho; false when the host failed to answer.
func listHost(ctx context.Context, fleet *Fleet, h Host, ho *HostObservation, obs *Observation) bool {
	all, err := h.List(ctx, "", "")
	if err != nil {
		ho.Reachable, ho.Err, ho.Tasks = false, err, nil
		fleet.drop(ho.Spec.Name)
		return false
	}
	ho.Tasks, ho.OtherUsed = splitTasks(all, obs.App, obs.Env)
	for j := range ho.Tasks {
		ho.Tasks[j].Host = ho.Spec.Name
	}
	sort.Slice(ho.Tasks, func(a, b int) bool { return ho.Tasks[a].Name < ho.Tasks[b].Name })
	return true
}

// ReadCapacity reads the capacity of every reachable host of obs concurrently, through
// fleet. A host that fails to answer becomes unreachable.
func ReadCapacity(ctx context.Context, fleet *Fleet, obs *Observation) {
	forEach(len(obs.Hosts), func(i int) {
		ho := &obs.Hosts[i]
		h := fleet.Host(ho.Spec.Name)
		if !ho.Reachable || !ho.InfoUnread || h == nil {
			return
		}
		hctx, cancel := context.WithTimeout(ctx, DialTimeout)
		defer cancel()
		info, err := hostInfo(hctx, h)
		if err != nil {
			ho.Reachable, ho.Err, ho.Tasks = false, err, nil
			fleet.drop(ho.Spec.Name)
			return
		}
		ho.Info, ho.InfoUnread = info, false
	})
}

func forEach(n int, fn func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(i)
		}()
	}
	wg.Wait()
}

// MarkUnreachable closes the connection to the named host and marks it unreachable in
// obs, with err as the reason: a caller that learnt the host is gone (its event stream
// broke) need not wait out a read's timeout to find out.
func MarkUnreachable(fleet *Fleet, obs *Observation, host string, err error) {
	for i := range obs.Hosts {
		if ho := &obs.Hosts[i]; ho.Spec.Name == host {
			ho.Reachable, ho.Err, ho.Tasks = false, err, nil
		}
	}
	fleet.drop(host)
}

func (f *Fleet) drop(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if h := f.hosts[name]; h != nil {
		_ = h.Close()
		delete(f.hosts, name)
	}
}

// splitTasks separates the tasks of app/env (an empty one matches any) from the others
// on the host, and adds up what the others' running tasks use, as their revisions declare.
func splitTasks(all []Task, app, env string) (mine []Task, otherUsed manifest.Resources) {
	n := 0
	for _, t := range all {
		if (app == "" || t.App == app) && (env == "" || t.Env == env) {
			n++
		}
	}
	if n == len(all) && n > 0 {
		// All of them (a List for app/env gives only those): the listing is the caller's
		// own, so it is kept rather than copied, a task at a time, into another.
		return all, otherUsed
	}
	if n > 0 {
		mine = make([]Task, 0, n) // one slice of the right size: a host may list thousands
	}
	for _, t := range all {
		if (app == "" || t.App == app) && (env == "" || t.Env == env) {
			mine = append(mine, t)
			continue
		}
		if t.Running() && t.Meta.Spec != nil {
			otherUsed.CPU += t.Meta.Spec.CPU
			otherUsed.Memory += t.Meta.Spec.Memory
		}
	}
	return mine, otherUsed
}

// Redial dials the hosts of obs that are unreachable again, concurrently, each within
// DialTimeout, and adds those that answer to fleet (a long-running caller, the controller,
// keeps one session while hosts come and go). It returns the names of the hosts it
// reconnected; their tasks are listed by the next ListTasks. dialable, when not nil, says
// which unreachable hosts are worth a try (the controller's watchers know which are down).
func Redial(ctx context.Context, d Dialer, fleet *Fleet, obs *Observation, dialable func(host string) bool) []string {
	var mu sync.Mutex
	var back []string
	forEach(len(obs.Hosts), func(i int) {
		ho := &obs.Hosts[i]
		if ho.Reachable && fleet.Host(ho.Spec.Name) != nil || dialable != nil && !dialable(ho.Spec.Name) {
			return
		}
		hctx, cancel := context.WithTimeout(ctx, DialTimeout)
		defer cancel()
		h, err := d.Dial(hctx, ho.Spec)
		if err != nil {
			ho.Reachable, ho.Err = false, err
			return
		}
		fleet.mu.Lock()
		fleet.hosts[ho.Spec.Name] = h
		fleet.mu.Unlock()
		ho.Reachable, ho.Err = true, nil
		mu.Lock()
		back = append(back, ho.Spec.Name)
		mu.Unlock()
	})
	return back
}
