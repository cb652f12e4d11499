package executor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/deckhq/deck/executor/failpoint"
	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner"
	"github.com/deckhq/deck/providers/lb"
)

// Load-balancer steps of a rollout. A service's route starts from what the plan saw
// serving; each rollout step is one change on every balancer (one reload for Caddy):
// the wave's new tasks, once they pass the target health check, are registered in the
// same change that deregisters the old tasks they replace. A deregistered address drains:
// it gets no new requests, and deck waits until the balancers count no request in flight
// to it (or the deregistration delay passes) before the task is sent SIGTERM.

// drainPoll is how often in-flight requests are read while a target drains.
const drainPoll = 50 * time.Millisecond

// routing is one service's route while it is applied.
type routing struct {
	a       *applier
	service string
	http    manifest.HTTP
	mu      sync.Mutex
	route   lb.Route
	// final are the route's settings from the manifest when they differ from what the
	// balancers hold: applied with the last change, once the new tasks serve, so a failed
	// rollout leaves the route as it was (a health check path only new tasks answer would
	// make the balancer's own check fail the old ones).
	final *lb.Route
	// stopped are draining addresses whose tasks are gone: the next change drops them.
	stopped map[string]bool
	dirty   bool // route differs from what the balancers hold
	// absent: a balancer does not hold the route yet (a new service, a balancer that
	// restarted empty). It is not written while it has no target: a route with none would
	// take its requests from the route they go to now (another service's /) and answer
	// 503 for as long as the first tasks take to start, or for good if they fail.
	absent bool
}

// routingFor returns the service's routing, or nil when it has no route.
func (a *applier) routingFor(sp planner.ServicePlan) *routing {
	if len(a.opts.Balancers) == 0 {
		return nil
	}
	r, ok := a.plan.Routes[sp.Name]
	if !ok {
		return nil
	}
	rt := &routing{a: a, service: sp.Name, route: r, stopped: map[string]bool{}}
	rt.route.Targets, rt.route.Draining = slices.Clone(r.Targets), slices.Clone(r.Draining)
	if sp.HTTP != nil {
		rt.http = *sp.HTTP
	}
	for _, c := range a.plan.Changes {
		if c.Service == sp.Name && c.Kind != planner.KindTask {
			rt.dirty = true // the balancers differ from the plan's route now
		}
		if c.Service == sp.Name && c.Kind == planner.KindRoute && c.Action == planner.Create {
			rt.absent = true
		}
		if c.Service == sp.Name && c.Kind == planner.KindRoute && c.Action == planner.Replace && c.Was != nil && rt.final == nil {
			final := rt.route
			rt.final = &final
			rt.route.Path, rt.route.Hosts, rt.route.Sticky, rt.route.Health = c.Was.Path, c.Was.Hosts, c.Was.Sticky, c.Was.Health
		}
	}
	return rt
}

// settle switches the route to the manifest's settings, if they differ, for the last
// change of a rollout that succeeded.
func (rt *routing) settle() {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.final == nil {
		return
	}
	rt.route.Path, rt.route.Hosts, rt.route.Sticky, rt.route.Health = rt.final.Path, rt.final.Hosts, rt.final.Sticky, rt.final.Health
	rt.final = nil
	rt.dirty = true
}

// register adds addresses to the targets.
func (rt *routing) register(addrs ...string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for _, a := range addrs {
		if a != "" && !slices.Contains(rt.route.Targets, a) {
			rt.route.Targets = append(rt.route.Targets, a)
			rt.route.Draining = slices.DeleteFunc(rt.route.Draining, func(d string) bool { return d == a })
			rt.dirty = true
		}
	}
	slices.Sort(rt.route.Targets)
}

// deregister moves registered addresses to draining and returns those it moved.
func (rt *routing) deregister(addrs ...string) []string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	var moved []string
	for _, a := range addrs {
		if a == "" || !slices.Contains(rt.route.Targets, a) {
			continue
		}
		rt.route.Targets = slices.DeleteFunc(rt.route.Targets, func(t string) bool { return t == a })
		if !slices.Contains(rt.route.Draining, a) {
			rt.route.Draining = append(rt.route.Draining, a)
		}
		moved = append(moved, a)
		rt.dirty = true
	}
	return moved
}

// draining returns those of addrs that are draining already.
func (rt *routing) draining(addrs []string) []string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	var out []string
	for _, a := range addrs {
		if a != "" && slices.Contains(rt.route.Draining, a) {
			out = append(out, a)
		}
	}
	return out
}

// gone notes that a draining address's task is stopped: the next change drops it.
func (rt *routing) gone(addrs ...string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for _, a := range addrs {
		if slices.Contains(rt.route.Draining, a) {
			rt.stopped[a] = true
		}
	}
}

// flush writes the route to every balancer when it changed: one change per balancer.
func (rt *routing) flush(ctx context.Context) error {
	rt.mu.Lock()
	if len(rt.stopped) > 0 {
		rt.route.Draining = slices.DeleteFunc(rt.route.Draining, func(a string) bool { return rt.stopped[a] })
		rt.stopped = map[string]bool{}
		rt.dirty = true
	}
	if !rt.dirty || (rt.absent && len(rt.route.Targets) == 0 && len(rt.route.Draining) == 0) {
		rt.mu.Unlock()
		return nil
	}
	r := rt.route
	r.Targets, r.Draining = slices.Clone(r.Targets), slices.Clone(r.Draining)
	rt.mu.Unlock()
	if err := rt.a.fence(); err != nil {
		return err
	}
	if err := putAll(ctx, rt.a.opts.Balancers, r); err != nil {
		return fmt.Errorf("updating the route of service %s: %w", rt.service, err)
	}
	rt.mu.Lock()
	rt.dirty, rt.absent = false, false
	rt.mu.Unlock()
	rt.a.emit(Event{Kind: EventRoute, Service: rt.service,
		Message: fmt.Sprintf("%d targets, %d draining", len(r.Targets), len(r.Draining))})
	return nil
}

func putAll(ctx context.Context, bs []lb.Balancer, r lb.Route) error {
	errs := make([]error, len(bs))
	var wg sync.WaitGroup
	for i, b := range bs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := b.Put(ctx, r); err != nil {
				errs[i] = fmt.Errorf("load balancer %s: %w", b.Name(), err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// drain deregisters addrs (one change), then waits until no balancer counts a request in
// flight to them, or the deregistration delay passes. Addresses already draining (left so
// by an interrupted run, planner's stillDraining) are waited for too.
func (rt *routing) drain(ctx context.Context, addrs []string) error {
	already := rt.draining(addrs)
	newly := rt.deregister(addrs...)
	if err := rt.flush(ctx); err != nil {
		// No task stops when the deregistration was not written: they are targets again,
		// so that a later write (the failed run's last flush) does not take live tasks
		// out of the route.
		rt.register(newly...)
		return err
	}
	moved := slices.Concat(already, newly)
	failpoint.Hit(failpoint.AfterRegister)
	if len(moved) == 0 {
		return nil
	}
	rt.a.emit(Event{Kind: EventDraining, Service: rt.service, Message: strings.Join(moved, ", ")})
	deadline := time.Now().Add(rt.http.DeregistrationDelay)
	for {
		busy := rt.inFlight(ctx, moved)
		if busy == 0 {
			return nil
		}
		if !time.Now().Before(deadline) {
			rt.a.emit(Event{Kind: EventDraining, Service: rt.service,
				Message: fmt.Sprintf("deregistration delay %s passed with %d requests in flight; stopping", rt.http.DeregistrationDelay, busy)})
			return nil
		}
		if !sleepCtx(ctx, min(drainPoll, time.Until(deadline))) {
			return ctx.Err()
		}
	}
}

// inFlight sums the requests in flight to addrs over every balancer. A balancer that
// cannot be read counts as busy (-1 → 1), so deck waits rather than cut requests.
func (rt *routing) inFlight(ctx context.Context, addrs []string) int {
	n := 0
	for _, b := range rt.a.opts.Balancers {
		m, err := b.InFlight(ctx)
		if err != nil {
			n++
			continue
		}
		for _, a := range addrs {
			n += m[a]
		}
	}
	return n
}

// targetGate runs the target group's health check against a new task before it is
// registered: HealthyThreshold passes in a row, by the end of the grace period counted
// from started. The checks are spaced by a quarter of a second or the interval, whichever
// is shorter, so a ready task is registered within a second.
func (rt *routing) targetGate(ctx context.Context, addr string, started time.Time) error {
	hc := rt.http.Healthcheck
	path := hc.Path
	if path == "" {
		path = "/"
	}
	codes, err := parseSuccessCodes(hc.SuccessCodes)
	if err != nil {
		return err
	}
	threshold := max(hc.HealthyThreshold, 1)
	spacing := 250 * time.Millisecond
	if hc.Interval > 0 && hc.Interval < spacing {
		spacing = hc.Interval
	}
	timeout := hc.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	deadline := started.Add(hc.GracePeriod)
	if min := time.Now().Add(time.Duration(threshold)*spacing + timeout); deadline.Before(min) {
		deadline = min
	}
	url := "http://" + addr + path
	passes, last := 0, ""
	for {
		status, err := probeStatus(ctx, rt.a.client, url, timeout)
		switch {
		case err != nil:
			passes, last = 0, err.Error()
		case codes(status):
			passes++
		default:
			passes, last = 0, fmt.Sprintf("GET %s: %d %s", path, status, http.StatusText(status))
		}
		if passes >= threshold {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("failed the load balancer's health check within its grace period %s: %s", hc.GracePeriod, last)
		}
		if !sleepCtx(ctx, spacing) {
			return fmt.Errorf("target health check: %w (last: %s)", ctx.Err(), last)
		}
	}
}

func probeStatus(ctx context.Context, c *http.Client, url string, timeout time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// parseSuccessCodes reads "200", "200,204" or "200-399" ("" = 200-399).
func parseSuccessCodes(s string) (func(int) bool, error) {
	if strings.TrimSpace(s) == "" {
		s = "200-399"
	}
	type span struct{ lo, hi int }
	var spans []span
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(strings.TrimSpace(lo))
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.Atoi(strings.TrimSpace(hi))
		}
		if err1 != nil || err2 != nil || a > b {
			return nil, fmt.Errorf("success codes %q: want codes such as 200, 200,204 or 200-399", s)
		}
		spans = append(spans, span{a, b})
	}
	return func(code int) bool {
		for _, sp := range spans {
			if code >= sp.lo && code <= sp.hi {
				return true
			}
		}
		return false
	}, nil
}

// routing returns the service's routing while it is applied, or nil.
func (a *applier) routing(service string) *routing {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.routes[service]
}

func (a *applier) balancer(name string) lb.Balancer {
	for _, b := range a.opts.Balancers {
		if b.Name() == name {
			return b
		}
	}
	return nil
}

// unroute takes a route the service no longer has out of service before its tasks stop:
// the route is withdrawn, so requests go to the routes after it, and every target drains
// (in-flight requests finish, up to the deregistration delay). It returns the routes to
// delete once the service's tasks are stopped.
func (a *applier) unroute(ctx context.Context, sp planner.ServicePlan) ([]planner.Change, error) {
	var out []planner.Change
	for _, c := range a.plan.Changes {
		if c.Service != sp.Name || c.Kind != planner.KindRoute || c.Action != planner.Destroy {
			continue
		}
		out = append(out, c)
		b := a.balancer(c.LB)
		if b == nil || c.Route == nil {
			continue
		}
		r := *c.Route
		r.Draining = append(slices.Clone(r.Draining), r.Targets...)
		r.Targets = nil
		// Withdrawn: new requests go on to the routes after it (another service's /)
		// rather than to a route with no target, which would answer 503.
		r.Withdrawn = true
		if err := a.fence(); err != nil {
			return nil, err
		}
		if err := b.Put(ctx, r); err != nil {
			return nil, fmt.Errorf("draining the route of service %s on load balancer %s: %w", sp.Name, c.LB, err)
		}
		rt := &routing{a: a, service: sp.Name, http: manifest.HTTP{DeregistrationDelay: defaultDeregistrationDelay}}
		if sp.HTTP != nil {
			rt.http = *sp.HTTP
		}
		deadline := time.Now().Add(rt.http.DeregistrationDelay)
		for rt.inFlight(ctx, r.Draining) > 0 && time.Now().Before(deadline) {
			if !sleepCtx(ctx, drainPoll) {
				return nil, ctx.Err()
			}
		}
	}
	return out, nil
}

// defaultDeregistrationDelay bounds the drain of a deleted service's route, whose
// manifest (and its deregistration delay) is gone.
const defaultDeregistrationDelay = 60 * time.Second

// deleteRoutes removes the routes unroute drained, once their tasks are stopped.
func (a *applier) deleteRoutes(ctx context.Context, cs []planner.Change) error {
	for _, c := range cs {
		b := a.balancer(c.LB)
		if b == nil {
			return fmt.Errorf("load balancer %s is not connected", c.LB)
		}
		if err := a.fence(); err != nil {
			return err
		}
		if err := b.Delete(ctx, a.plan.App, a.plan.Env, c.Service); err != nil {
			return fmt.Errorf("removing the route of service %s from load balancer %s: %w", c.Service, c.LB, err)
		}
		a.emit(Event{Kind: EventRoute, Service: c.Service, Message: "route removed from " + c.LB})
	}
	return nil
}
