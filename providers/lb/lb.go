// Package lb holds the load-balancer provider interface: what deck needs from a load
// balancer to route a service's traffic to its healthy tasks, drain the ones it stops, and
// read back what the balancer holds, so the planner can diff it like tasks.
//
// The interface is small on purpose. Caddy (providers/lb/caddy) implements it through its
// admin API, where every write reloads the whole configuration; HAProxy's runtime API
// changes servers without a reload. Both fit: a Put is one change of one route (one
// reload for Caddy), whatever number of targets it adds, drains or removes.
package lb

import (
	"context"
	"errors"
	"strings"
	"time"
)

// ErrUnreachable is returned (wrapped) when the balancer's admin API does not answer.
var ErrUnreachable = errors.New("admin API unreachable")

// ErrRouteClash is wrapped when a route would match the very requests a route of another
// app or environment on the same balancer and listen address matches.
var ErrRouteClash = errors.New("another app's or environment's route takes these requests")

// Route is one service's entry: which requests it takes and where it sends them.
type Route struct {
	App     string `json:"app"`
	Env     string `json:"env"`
	Service string `json:"service"`
	// Path is the path prefix it matches ("/" for every path).
	Path string `json:"path"`
	// Hosts are the host names it matches; empty matches any.
	Hosts []string `json:"hosts,omitempty"`
	// Targets are the addresses (host:port) that get new requests.
	Targets []string `json:"targets"`
	// Draining are addresses that get no new requests and whose in-flight requests are
	// still counted (InFlight), so deck knows when they have drained.
	Draining []string `json:"draining,omitempty"`
	// Withdrawn: the route takes no request at all, and requests go on to the routes after
	// it (another service's /), while its draining addresses are still counted: the route
	// of a deleted service, until its in-flight requests end and it is deleted.
	Withdrawn bool `json:"withdrawn,omitempty"`
	// Sticky keeps a client on one target with a cookie.
	Sticky bool `json:"sticky,omitempty"`
	// Health is the balancer's own active check, a safety net: deck registers a target
	// only once its own probe passed. Zero Path: none.
	Health HealthCheck `json:"health"`
}

// HealthCheck is a balancer's active check of its targets.
type HealthCheck struct {
	Path     string        `json:"path,omitempty"`
	Interval time.Duration `json:"interval,omitempty"`
	Timeout  time.Duration `json:"timeout,omitempty"`
}

// Overlap reports whether r and o take some of the same requests, and for which host ("":
// any host): the same path, and no host name on either, or a host name on both (case
// aside). A balancer gives those requests to one of the two. A route for host names beside
// one for any host is no overlap: the named one is tried first. A withdrawn route takes no
// request, so it overlaps none.
func (r Route) Overlap(o Route) (host string, ok bool) {
	if r.Path != o.Path || r.Withdrawn || o.Withdrawn {
		return "", false
	}
	if len(r.Hosts)+len(o.Hosts) == 0 {
		return "", true
	}
	for _, x := range r.Hosts {
		for _, y := range o.Hosts {
			if strings.EqualFold(x, y) {
				return strings.ToLower(y), true
			}
		}
	}
	return "", false
}

// Key names a route within a balancer.
func (r Route) Key() string { return r.App + "/" + r.Env + "/" + r.Service }

// NeighbourReader is a Balancer that can also say, in the same read as Routes, what the
// routes of other apps and environments on the same listener match: the planner refuses a
// route that would take the very requests one of them takes.
type NeighbourReader interface {
	// RoutesAndNeighbours returns Routes(app, env), and the routes of the other apps and
	// environments on the balancer's listener.
	RoutesAndNeighbours(ctx context.Context, app, env string) (map[string]Route, []Route, error)
}

// Balancer is one load balancer.
type Balancer interface {
	// Name is the balancer's name in the environment.
	Name() string
	// Routes returns the routes the balancer holds for app and env, by service name.
	Routes(ctx context.Context, app, env string) (map[string]Route, error)
	// Put creates or replaces the route of r.Service in one change.
	Put(ctx context.Context, r Route) error
	// Delete removes a service's route; removing a missing one is not an error.
	Delete(ctx context.Context, app, env, service string) error
	// InFlight returns the requests in flight per address, over its targets and
	// draining addresses; an address it does not know is absent.
	InFlight(ctx context.Context) (map[string]int, error)
	Close() error
}
