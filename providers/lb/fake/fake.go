// Package fake is an in-memory load balancer for unit tests: it holds routes, counts the
// writes a real balancer would make (each one a reload for Caddy), reports the requests in
// flight a test sets, and can play an admin API that does not answer.
package fake

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"sync"

	"github.com/deckhq/deck/providers/lb"
)

var _ lb.Balancer = (*Balancer)(nil)

// Balancer is an in-memory lb.Balancer. It is safe for concurrent use.
type Balancer struct {
	name string

	mu       sync.Mutex
	routes   map[string]lb.Route // by Route.Key
	inFlight map[string]int
	writes   int
	down     bool
}

// New returns an empty balancer named name.
func New(name string) *Balancer {
	return &Balancer{name: name, routes: map[string]lb.Route{}, inFlight: map[string]int{}}
}

// Name returns the balancer's name.
func (b *Balancer) Name() string { return b.name }

// Writes returns how many changes the balancer applied. Like a real balancer, a Put that
// changes nothing and a Delete of a missing route write nothing.
func (b *Balancer) Writes() int { b.mu.Lock(); defer b.mu.Unlock(); return b.writes }

// SetInFlight sets the requests in flight at addr. InFlight reports it while addr is a
// target or a draining address of some route.
func (b *Balancer) SetInFlight(addr string, n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inFlight[addr] = n
}

// SetDown makes every call fail with lb.ErrUnreachable (true) or work again (false).
func (b *Balancer) SetDown(down bool) { b.mu.Lock(); defer b.mu.Unlock(); b.down = down }

// Routes returns the routes of app and env, by service.
func (b *Balancer) Routes(_ context.Context, app, env string) (map[string]lb.Route, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.reachable(); err != nil {
		return nil, err
	}
	out := map[string]lb.Route{}
	for _, r := range b.routes {
		if r.App == app && r.Env == env {
			out[r.Service] = clone(r)
		}
	}
	return out, nil
}

// RoutesAndNeighbours returns Routes(app, env) and the routes of every other app and
// environment (lb.NeighbourReader): the fake has one listener.
func (b *Balancer) RoutesAndNeighbours(ctx context.Context, app, env string) (map[string]lb.Route, []lb.Route, error) {
	mine, err := b.Routes(ctx, app, env)
	if err != nil {
		return nil, nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var others []lb.Route
	for _, r := range b.routes {
		if r.App != app || r.Env != env {
			others = append(others, clone(r))
		}
	}
	sort.Slice(others, func(i, j int) bool { return others[i].Key() < others[j].Key() })
	return mine, others, nil
}

// Put stores r, or refuses it as a real balancer would.
func (b *Balancer) Put(_ context.Context, r lb.Route) error {
	if err := r.Check(); err != nil {
		return fmt.Errorf("fake load balancer %s: %w", b.name, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.reachable(); err != nil {
		return err
	}
	r = clone(r)
	if old, ok := b.routes[r.Key()]; ok && reflect.DeepEqual(old, r) {
		return nil
	}
	b.routes[r.Key()] = r
	b.writes++
	return nil
}

// Delete removes a service's route.
func (b *Balancer) Delete(_ context.Context, app, env, service string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.reachable(); err != nil {
		return err
	}
	key := lb.Route{App: app, Env: env, Service: service}.Key()
	if _, ok := b.routes[key]; ok {
		delete(b.routes, key)
		b.writes++
	}
	return nil
}

// InFlight returns the in-flight count set for every address the routes hold.
func (b *Balancer) InFlight(context.Context) (map[string]int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.reachable(); err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, r := range b.routes {
		for _, a := range append(slices.Clone(r.Targets), r.Draining...) {
			out[a] = b.inFlight[a]
		}
	}
	return out, nil
}

// Close does nothing.
func (b *Balancer) Close() error { return nil }

func (b *Balancer) reachable() error {
	if b.down {
		return fmt.Errorf("fake load balancer %s: %w (the test set it down)", b.name, lb.ErrUnreachable)
	}
	return nil
}

// clone copies r's slices, empty ones as nil, as a real balancer reads them back.
func clone(r lb.Route) lb.Route {
	r.Hosts = cloneList(r.Hosts)
	r.Targets = cloneList(r.Targets)
	r.Draining = cloneList(r.Draining)
	return r
}

func cloneList(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}
