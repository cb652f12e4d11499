package planner

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner/state"
	"github.com/deckhq/deck/providers/lb"
)

// Load-balancer changes. A Load Balanced Web Service has a route on every load balancer of
// its environment; the route's targets are the addresses of its serving tasks. The plan
// shows what differs on each balancer now: a missing route (a balancer restarted empty),
// a route whose settings changed, targets that point at no serving task (a crash between
// register and deregister), serving tasks that are not registered. New tasks are
// registered by the rollout once they pass the target health check, and old ones are
// deregistered and drained before they stop: those show as task changes.
const (
	KindRoute  Kind = "route"
	KindTarget Kind = "target"
)

const (
	// ReasonRouteMissing: the balancer has no route for the service.
	ReasonRouteMissing ReasonCode = "route_missing"
	// ReasonRouteChanged: the route's settings differ from the manifest (Fields).
	ReasonRouteChanged ReasonCode = "route_changed"
	// ReasonRouteUnwanted: the service is deleted, or no longer a Load Balanced Web Service.
	ReasonRouteUnwanted ReasonCode = "route_unwanted"
	// ReasonTargetStale: the address is registered but no serving task has it (Detail).
	ReasonTargetStale ReasonCode = "target_stale"
	// ReasonTargetMissing: a serving task's address is not registered.
	ReasonTargetMissing ReasonCode = "target_missing"
)

// routeNew is the Detail of a ReasonRouteMissing for a service that has no task yet.
const routeNew = "new"

// ErrBalancerUnreachable is wrapped when a load balancer the plan needs could not be read.
var ErrBalancerUnreachable = errors.New("load balancer unreachable")

// RouteOf is the route the manifest asks for, without targets.
func RouteOf(app, env string, svc manifest.ServiceSpec) lb.Route {
	r := lb.Route{App: app, Env: env, Service: svc.Name, Path: "/"}
	if h := svc.HTTP; h != nil {
		if h.Path != "" {
			r.Path = h.Path
		}
		r.Hosts = slices.Clone(h.Aliases)
		r.Sticky = h.Stickiness
		r.Health = lb.HealthCheck{Path: h.Healthcheck.Path, Interval: h.Healthcheck.Interval, Timeout: h.Healthcheck.Timeout}
	}
	return r
}

// planRoutes adds the load-balancer changes and each routed service's route to the plan.
func (c *computer) planRoutes(desired []Desired, deletes []string, partial bool) error {
	balancers := c.snap.Balancers()
	if len(balancers) == 0 {
		return nil
	}
	routed := map[string]Desired{}
	for _, d := range desired {
		if d.Service.HTTP != nil {
			routed[d.Service.Name] = d
		}
	}
	if len(routed) > 0 || len(c.snap.Routes()) > 0 {
		for _, b := range balancers {
			if !b.Reachable {
				detail := b.Err
				if !strings.Contains(detail, b.Spec.Name) {
					detail = b.Spec.Name + " on host " + b.Spec.Host + ": " + detail
				}
				return fmt.Errorf("%w: %s; deck changes nothing until it can reach every load balancer of the environment",
					ErrBalancerUnreachable, detail)
			}
		}
	}
	if c.plan.Routes == nil {
		c.plan.Routes = map[string]lb.Route{}
	}
	for _, name := range slices.Sorted(maps.Keys(routed)) {
		d := routed[name]
		want := RouteOf(c.snap.App(), c.snap.Env(), d.Service)
		if err := clashes(balancers, want); err != nil {
			return err
		}
		want.Targets = c.servingAddresses(name)
		want.Draining = c.stillDraining(name, want.Targets)
		c.plan.Routes[name] = want
		for _, b := range balancers {
			c.diffRoute(b.Spec.Name, want)
		}
	}
	deleted := map[string]bool{}
	for _, n := range deletes {
		deleted[n] = true
	}
	wanted := map[string]bool{}
	for _, d := range desired {
		wanted[d.Service.Name] = true
	}
	for _, rs := range c.snap.Routes() {
		if _, ok := routed[rs.Service]; ok {
			continue
		}
		// A route of a service that is deleted, or desired without a route; a route of a
		// service the manifests do not know is left (its tasks are too), unless this plan
		// covers every service.
		if deleted[rs.Service] || wanted[rs.Service] || (!partial && !c.hasTasks(rs.Service)) {
			if !deleted[rs.Service] && !wanted[rs.Service] && !c.planned(rs.Service) {
				c.plan.Services = append(c.plan.Services, ServicePlan{Name: rs.Service, Delete: true})
			}
			r := rs.Route
			c.addRouteChange(Change{Action: Destroy, Kind: KindRoute, Service: rs.Service, LB: rs.LB, Route: &r,
				Reason: Reason{Code: ReasonRouteUnwanted}})
		}
	}
	return nil
}

// holdRouted drops the services with a route from desired when a load balancer cannot be
// read, with a warning naming them, and reports whether the routes can be planned.
func (c *computer) holdRouted(desired []Desired) ([]Desired, bool) {
	var down []string
	for _, b := range c.snap.Balancers() {
		if !b.Reachable {
			down = append(down, b.Spec.Name+" on host "+b.Spec.Host)
		}
	}
	if len(down) == 0 {
		return desired, true
	}
	kept := make([]Desired, 0, len(desired))
	var held []string
	for _, d := range desired {
		if d.Service.HTTP != nil {
			held = append(held, d.Service.Name)
			continue
		}
		kept = append(kept, d)
	}
	if len(held) > 0 {
		c.warn("load balancer %s cannot be read: the services it routes (%s) are left as they are until it answers",
			strings.Join(down, ", "), strings.Join(held, ", "))
	}
	return kept, false
}

// clashes refuses a route that would take requests a route of another app or environment
// on the same balancer's listener takes (lb.Route.Overlap): the balancer gives them to one
// of the two, so the other's deploy would answer for this one.
func clashes(balancers []state.BalancerState, want lb.Route) error {
	for _, b := range balancers {
		for _, n := range b.Neighbours {
			host, ok := n.Overlap(want)
			if !ok {
				continue
			}
			if host == "" {
				host = "any host"
			}
			return fmt.Errorf("%w: service %s's route on load balancer %s (path %s, %s) would take requests the route of app %s, environment %s, service %s takes on that listener: "+
				"give this environment's load balancer its own listen port, or the service an http.alias or a path of its own",
				lb.ErrRouteClash, want.Service, b.Spec.Name, want.Path, host, n.App, n.Env, n.Service)
		}
	}
	return nil
}

// servingAddresses are the addresses of the service's tasks that serve now: they belong
// in its route until the rollout drains them. A task this plan destroys that no balancer
// has registered is left out: it is stopped before anything starts, so registering it
// would only send it requests on its way out. One that is registered stays, so that the
// rollout drains it before it stops (a scale-in), rather than cutting it off at once.
func (c *computer) servingAddresses(service string) []string {
	var out []string
	tasks := c.tasksOf(service)
	replaced := replacedTasks(tasks)
	destroyed := map[string]bool{}
	for _, ch := range c.plan.Changes {
		if ch.Kind == KindTask && ch.Action == Destroy && ch.Service == service && ch.Old != nil {
			destroyed[ch.Old.Host+"/"+ch.Old.TaskID] = true
		}
	}
	registered := map[string]bool{}
	for _, rs := range c.snap.Routes() {
		if rs.Service == service {
			for _, a := range rs.Route.Targets {
				registered[a] = true
			}
		}
	}
	for _, t := range tasks {
		if !t.Serving() || replaced[t.TaskID] != "" {
			continue // a stale task (replaced while its host was away) is not routed to again
		}
		a := t.Address(t.HostAddress)
		if a == "" || destroyed[t.Host+"/"+t.TaskID] && !registered[a] {
			continue
		}
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// stillDraining are the addresses a balancer has draining (an earlier run was stopped,
// by Ctrl-C or a crash, while it drained them) whose tasks still run and do not serve
// again: they stay draining, so that the rollout that stops them waits for their
// requests first rather than cutting them off.
func (c *computer) stillDraining(service string, serving []string) []string {
	running := map[string]bool{}
	for t := range c.snap.EachTaskOf(service) {
		if t.Running() && t.HostReachable {
			running[t.Address(t.HostAddress)] = true
		}
	}
	var out []string
	for _, rs := range c.snap.Routes() {
		if rs.Service != service {
			continue
		}
		for _, a := range rs.Route.Draining {
			if running[a] && !slices.Contains(serving, a) && !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	slices.Sort(out)
	return out
}

func (c *computer) diffRoute(name string, want lb.Route) {
	rs, ok := c.snap.Route(name, want.Service)
	if !ok {
		if len(want.Targets) == 0 && !c.startsTasks(want.Service) {
			// Nothing to route, and nothing that will be: the executor writes a route with
			// its first targets only (an empty one would answer 503 for requests another
			// route answers now), so planning it would plan a change that is never made.
			return
		}
		r := want
		why := Reason{Code: ReasonRouteMissing}
		if len(want.Targets) == 0 && !c.hasTasks(want.Service) {
			why.Detail = routeNew // not a balancer that lost it: nothing of the service runs yet
		}
		c.addRouteChange(Change{Action: Create, Kind: KindRoute, Service: want.Service, LB: name, Route: &r, Reason: why})
		return
	}
	if fields := RouteFieldsChanged(rs.Route, want); len(fields) > 0 {
		r, was := want, rs.Route
		c.addRouteChange(Change{Action: Replace, Kind: KindRoute, Service: want.Service, LB: name, Route: &r, Was: &was,
			Reason: Reason{Code: ReasonRouteChanged, Fields: fields}})
	}
	serving := map[string]bool{}
	for _, a := range want.Targets {
		serving[a] = true
	}
	registered := map[string]bool{}
	for _, a := range rs.Route.Targets {
		registered[a] = true
		if !serving[a] && !c.inGrace(a) {
			c.addRouteChange(Change{Action: Destroy, Kind: KindTarget, Service: want.Service, LB: name, Target: a,
				Reason: Reason{Code: ReasonTargetStale, Detail: c.whyStale(want.Service, a)}})
		}
	}
	for _, a := range rs.Route.Draining {
		if !serving[a] && !registered[a] && !slices.Contains(want.Draining, a) {
			c.addRouteChange(Change{Action: Destroy, Kind: KindTarget, Service: want.Service, LB: name, Target: a,
				Reason: Reason{Code: ReasonTargetStale, Detail: "left draining by an earlier run; " + c.whyStale(want.Service, a)}})
		}
	}
	for _, a := range want.Targets {
		if !registered[a] {
			c.addRouteChange(Change{Action: Create, Kind: KindTarget, Service: want.Service, LB: name, Target: a,
				Reason: Reason{Code: ReasonTargetMissing}})
		}
	}
}

// inGrace reports whether addr is on an unreachable host still within its grace period:
// its target is left registered (the balancer may well still reach it).
func (c *computer) inGrace(addr string) bool {
	host, _, _ := strings.Cut(addr, ":")
	for _, h := range c.snap.UnreachableHosts() {
		if h.Spec.Address == host && c.grace[h.Name] {
			return true
		}
	}
	return false
}

// whyStale says what became of the task that had addr.
func (c *computer) whyStale(service, addr string) string {
	for t := range c.snap.EachTaskOf(service) {
		if t.Address(t.HostAddress) != addr {
			continue
		}
		switch {
		case !t.HostReachable:
			return "its task " + t.TaskID + "'s host is unreachable"
		case !t.Running():
			return "its task " + t.TaskID + " is " + t.State
		default:
			return "its task " + t.TaskID + " is not healthy (" + t.HealthDetail + ")"
		}
	}
	host, _, _ := strings.Cut(addr, ":")
	for _, h := range c.snap.UnreachableHosts() {
		if h.Spec.Address == host {
			return "its host " + h.Name + " is unreachable"
		}
	}
	return "no task of the service has it"
}

// RouteFieldsChanged names the route settings that differ between have and want (path,
// alias, stickiness, healthcheck); targets are left to their own diff.
func RouteFieldsChanged(have, want lb.Route) []string {
	var out []string
	if have.Path != want.Path {
		out = append(out, "path")
	}
	if !slices.Equal(sortedCopy(have.Hosts), sortedCopy(want.Hosts)) {
		out = append(out, "alias")
	}
	if have.Sticky != want.Sticky {
		out = append(out, "stickiness")
	}
	if have.Health != want.Health {
		out = append(out, "healthcheck")
	}
	if have.Withdrawn != want.Withdrawn {
		out = append(out, "withdrawn") // a deleted service's route, still draining
	}
	return out
}

// startsTasks reports whether the plan starts (or verifies) tasks of service.
func (c *computer) startsTasks(service string) bool {
	for _, ch := range c.plan.Changes {
		if ch.Service == service && ch.Kind == KindTask && ch.Action != Destroy {
			return true
		}
	}
	return false
}

func (c *computer) planned(service string) bool {
	for _, sp := range c.plan.Services {
		if sp.Name == service {
			return true
		}
	}
	return false
}

func (c *computer) addRouteChange(ch Change) {
	c.plan.Changes = append(c.plan.Changes, ch)
}

func sortedCopy(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// routeText is what a route or target change does.
func routeText(c Change) string {
	switch c.Kind {
	case KindRoute:
		if c.Route == nil {
			return "route on " + c.LB
		}
		s := "route on " + c.LB + ": " + c.Route.Path
		if len(c.Route.Hosts) > 0 {
			s += " (host " + strings.Join(c.Route.Hosts, ", ") + ")"
		}
		if c.Action == Create {
			s += fmt.Sprintf(" -> %d targets", len(c.Route.Targets))
		}
		return s
	default:
		return "target " + c.Target + " on " + c.LB
	}
}
