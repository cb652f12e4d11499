package planner

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/health"
	"github.com/deckhq/deck/providers/lb"
)

func withHTTP(path string) func(*manifest.ServiceSpec) {
	return func(s *manifest.ServiceSpec) {
		s.HTTP = &manifest.HTTP{Path: path, Healthcheck: manifest.TargetHealthcheck{Path: "/healthz"}}
	}
}

// balancer makes the environment have a load balancer "edge" holding routes.
func (h *harness) balancer(routes ...lb.Route) {
	m := map[string]lb.Route{}
	for _, r := range routes {
		m[r.Service] = r
	}
	h.balancers = append(h.balancers, providers.BalancerObservation{
		Spec: manifest.LoadBalancerSpec{Name: "edge", Host: "h1"}, Reachable: true, Routes: m})
}

func addr(t providers.Task) string { return t.Address(t.Host) }

func routeChanges(p *Plan) []Change {
	var out []Change
	for _, c := range p.Changes {
		if c.Kind != KindTask {
			out = append(out, c)
		}
	}
	return out
}

func TestRouteMissingIsRestoredWithTheServingTasks(t *testing.T) {
	h := newHarness(t).hosts(2, 4096, 8192)
	web := service("web", 2, webTask(), withHTTP("/"))
	a1 := h.run("h1", web.Revision, "a1")
	a2 := h.run("h2", web.Revision, "a2")
	h.balancer()

	p := h.plan(web)
	require.False(t, p.Empty(), "an empty balancer is a change")
	assert.Zero(t, p.TaskChanges())
	rc := routeChanges(p)
	require.Len(t, rc, 1)
	assert.Equal(t, Create, rc[0].Action)
	assert.Equal(t, KindRoute, rc[0].Kind)
	assert.Equal(t, "edge", rc[0].LB)
	assert.ElementsMatch(t, []string{addr(a1), addr(a2)}, rc[0].Route.Targets)
	assert.Equal(t, ReasonRouteMissing, rc[0].Reason.Code)
	assert.Equal(t, "the load balancer has no route for the service: restore it", Describe(rc[0].Reason))
	assert.Equal(t, rc[0].Route.Targets, p.Routes["web"].Targets)
	assert.Equal(t, "/healthz", p.Routes["web"].Health.Path)
}

// A service deployed for the first time gets its route: nothing was lost to restore.
func TestRouteOfANewServiceIsNew(t *testing.T) {
	h := newHarness(t).hosts(2, 4096, 8192)
	h.balancer()
	rc := routeChanges(h.plan(service("web", 2, webTask(), withHTTP("/"))))
	require.Len(t, rc, 1)
	assert.Equal(t, ReasonRouteMissing, rc[0].Reason.Code)
	assert.Equal(t, "a new route: the service has none on this load balancer yet", Describe(rc[0].Reason))
}

// A routed service with nothing to route and no task to start (count 0) gets no empty
// route: the executor would not write it (it writes a new route with its first targets),
// so the plan would hold a change that is never made, on every run.
func TestNoRouteIsPlannedWithNothingToRoute(t *testing.T) {
	h := newHarness(t).hosts(2, 4096, 8192)
	h.balancer()
	assert.Empty(t, routeChanges(h.plan(service("web", 0, webTask(), withHTTP("/")))))
}

func TestRouteInStepPlansNothing(t *testing.T) {
	h := newHarness(t).hosts(2, 4096, 8192)
	web := service("web", 2, webTask(), withHTTP("/api"))
	a1 := h.run("h1", web.Revision, "a1")
	a2 := h.run("h2", web.Revision, "a2")
	r := RouteOf(testApp, testEnv, web.Service)
	r.Targets = []string{addr(a1), addr(a2)}
	h.balancer(r)
	p := h.plan(web)
	assert.True(t, p.Empty(), "%+v", p.Changes)
}

func TestStaleAndMissingTargets(t *testing.T) {
	h := newHarness(t).hosts(2, 4096, 8192)
	web := service("web", 2, webTask(), withHTTP("/"))
	a1 := h.run("h1", web.Revision, "a1")
	a2 := h.run("h2", web.Revision, "a2")
	h.health["a2"] = health.StateUnhealthy
	r := RouteOf(testApp, testEnv, web.Service)
	r.Targets = []string{addr(a2), "h9:1234"} // a1 serves and is not registered
	r.Draining = []string{"h8:999"}           // left by a run that crashed
	h.balancer(r)

	p := h.plan(web)
	got := map[string]Action{}
	for _, c := range routeChanges(p) {
		require.Equal(t, KindTarget, c.Kind)
		got[c.Target] = c.Action
	}
	assert.Equal(t, map[string]Action{addr(a1): Create, addr(a2): Destroy, "h9:1234": Destroy, "h8:999": Destroy}, got)
	assert.Equal(t, []string{addr(a1)}, p.Routes["web"].Targets, "only serving tasks are targets")
	for _, c := range routeChanges(p) {
		if c.Target == addr(a2) {
			assert.Contains(t, Describe(c.Reason), "not healthy")
		}
	}
}

// A serving task the plan destroys (here, one over the count, left by a failed rollout on
// a host that came back) is not registered on its way out.
func TestDestroyedTaskIsNotRegistered(t *testing.T) {
	h := newHarness(t).hosts(2, 4096, 8192)
	web := service("web", 2, webTask(), withHTTP("/"))
	a1 := h.run("h1", web.Revision, "a1")
	a2 := h.run("h2", web.Revision, "a2")
	h.run("h2", web.Revision, "a3") // serving, unregistered, over the count
	r := RouteOf(testApp, testEnv, web.Service)
	r.Targets = []string{addr(a1), addr(a2)}
	h.balancer(r)

	p := h.plan(web)
	by := changesBy(p)
	require.Equal(t, []string{"a3"}, by[Destroy])
	assert.Empty(t, routeChanges(p), "a3 is stopped, not registered")
	assert.Equal(t, []string{addr(a1), addr(a2)}, p.Routes["web"].Targets)
}

// A registered task the plan destroys (a scale-in) stays in the route the executor starts
// from, which drains it before it stops; no target change cuts it off first.
func TestDestroyedRegisteredTaskIsDrainedNotCutOff(t *testing.T) {
	h := newHarness(t).hosts(3, 4096, 8192)
	web := service("web", 2, webTask(), withHTTP("/"))
	a1 := h.run("h1", web.Revision, "a1")
	a2 := h.run("h2", web.Revision, "a2")
	a3 := h.run("h3", web.Revision, "a3")
	r := RouteOf(testApp, testEnv, web.Service)
	r.Targets = []string{addr(a1), addr(a2), addr(a3)}
	h.balancer(r)

	p := h.plan(web)
	by := changesBy(p)
	require.Len(t, by[Destroy], 1, "one task over the count")
	assert.Empty(t, routeChanges(p), "its target is drained by the rollout, not deregistered at once")
	assert.ElementsMatch(t, r.Targets, p.Routes["web"].Targets)
}

func TestRouteSettingsChange(t *testing.T) {
	h := newHarness(t).hosts(1, 4096, 8192)
	web := service("web", 1, webTask(), withHTTP("/v2"))
	a1 := h.run("h1", web.Revision, "a1")
	old := RouteOf(testApp, testEnv, web.Service)
	old.Path, old.Targets = "/v1", []string{addr(a1)}
	h.balancer(old)
	rc := routeChanges(h.plan(web))
	require.Len(t, rc, 1)
	assert.Equal(t, Replace, rc[0].Action)
	assert.Equal(t, []string{"path"}, rc[0].Reason.Fields)
	assert.Equal(t, "/v2", rc[0].Route.Path)
}

func TestRoutesOfDeletedAndUnroutedServices(t *testing.T) {
	h := newHarness(t).hosts(1, 4096, 8192)
	web := service("web", 1, webTask(), withHTTP("/"))
	api := service("api", 1, webTask()) // no longer routed
	h.run("h1", web.Revision, "w1")
	h.run("h1", api.Revision, "p1")
	rw := RouteOf(testApp, testEnv, web.Service)
	ra := RouteOf(testApp, testEnv, api.Service)
	ra.Targets = []string{"h1:5"}
	h.balancer(rw, ra)
	p, err := h.compute(Options{Delete: []string{"web"}}, api)
	require.NoError(t, err)
	got := map[string]Change{}
	for _, c := range routeChanges(p) {
		got[c.Service] = c
	}
	require.Len(t, got, 2)
	for _, svc := range []string{"web", "api"} {
		assert.Equal(t, Destroy, got[svc].Action, svc)
		require.NotNil(t, got[svc].Route, "a destroyed route carries what it held, to drain it")
	}
	assert.Equal(t, []string{"h1:5"}, got["api"].Route.Targets)
}

func TestUnreachableBalancerStopsThePlan(t *testing.T) {
	h := newHarness(t).hosts(1, 4096, 8192)
	web := service("web", 1, webTask(), withHTTP("/"))
	h.balancers = []providers.BalancerObservation{{Spec: manifest.LoadBalancerSpec{Name: "edge", Host: "h1"},
		Err: fmt.Errorf("dial unix /run/caddy.sock: connection refused")}}
	_, err := h.compute(Options{}, web)
	require.ErrorIs(t, err, ErrBalancerUnreachable)
	assert.Contains(t, err.Error(), "edge on host h1: dial unix /run/caddy.sock: connection refused")
}

// The controller heals what a balancer outage does not touch: services without a route are
// planned as usual, those with one are left as they are, and the plan says so.
func TestUnreachableBalancerHoldsOnlyTheRoutedServices(t *testing.T) {
	h := newHarness(t).hosts(2, 4096, 8192)
	web := service("web", 2, webTask(), withHTTP("/"))
	worker := service("worker", 2, webTask())
	h.run("h1", web.Revision, "w1")
	h.run("h1", worker.Revision, "k1")
	h.balancers = []providers.BalancerObservation{{Spec: manifest.LoadBalancerSpec{Name: "edge", Host: "h1"},
		Err: fmt.Errorf("dial unix /run/caddy.sock: connection refused")}}
	p, err := h.compute(Options{HoldRoutedWhenBalancerDown: true, Partial: true}, web, worker)
	require.NoError(t, err)
	var created []string
	for _, c := range p.Changes {
		assert.Equal(t, KindTask, c.Kind, "nothing is planned on the balancer")
		if c.Action == Create {
			created = append(created, c.Service)
		}
	}
	assert.Equal(t, []string{"worker"}, created, "the worker's missing task is started; web is left as it is")
	assert.Contains(t, strings.Join(p.Warnings, "\n"), "load balancer edge on host h1 cannot be read: the services it routes (web) are left as they are")
}

func TestRouteChangesRender(t *testing.T) {
	h := newHarness(t).hosts(1, 4096, 8192)
	web := service("web", 1, webTask(), withHTTP("/"))
	h.run("h1", web.Revision, "a1")
	h.balancer()
	var b bytes.Buffer
	require.NoError(t, RenderText(&b, h.plan(web), nil))
	assert.Contains(t, b.String(), "+ route on edge: / -> 1 targets")
	assert.Contains(t, b.String(), "0 to create, 0 to replace, 0 to destroy; 1 load balancer change.")
}

// Every balancer of the environment gets the same route: each is diffed on its own, so a
// second balancer that restarted empty gets its route back while the first is left alone.
func TestEachBalancerIsDiffedOnItsOwn(t *testing.T) {
	h := newHarness(t).hosts(1, 4096, 8192)
	web := service("web", 1, webTask(), withHTTP("/"))
	a1 := h.run("h1", web.Revision, "a1")
	r := RouteOf(testApp, testEnv, web.Service)
	r.Targets = []string{addr(a1)}
	h.balancer(r)
	h.balancers = append(h.balancers, providers.BalancerObservation{
		Spec: manifest.LoadBalancerSpec{Name: "edge2", Host: "h1"}, Reachable: true, Routes: map[string]lb.Route{}})
	rc := routeChanges(h.plan(web))
	require.Len(t, rc, 1)
	assert.Equal(t, "edge2", rc[0].LB)
	assert.Equal(t, Create, rc[0].Action)
	assert.Equal(t, []string{addr(a1)}, rc[0].Route.Targets)
}

// Another environment's route on the same balancer's listener, matching the same path and
// host names, would take every request: the plan is refused, naming it. With an alias of
// its own, the route takes other requests.
func TestRouteThatClashesWithAnotherEnvironmentsIsRefused(t *testing.T) {
	h := newHarness(t).hosts(2, 4096, 8192)
	h.balancer()
	h.balancers[0].Neighbours = []lb.Route{{App: testApp, Env: "prod", Service: "web", Path: "/", Targets: []string{"10.1.1.1:80"}}}
	web := service("web", 2, webTask(), withHTTP("/"))
	_, err := h.compute(Options{}, web)
	require.ErrorIs(t, err, lb.ErrRouteClash)
	assert.Contains(t, err.Error(), "service web's route on load balancer edge (path /, any host) would take requests the route of app "+
		testApp+", environment prod, service web takes on that listener")

	web.Service.HTTP.Aliases = []string{"qa.example.com"}
	_, err = h.compute(Options{}, web)
	require.NoError(t, err, "a route for a host name beside one for any host: the named one is tried first")

	// One host name in common is enough: its requests would go to one of the two.
	h.balancers[0].Neighbours[0].Hosts = []string{"Shop.Example.com"}
	web.Service.HTTP.Aliases = []string{"other.example.com", "shop.example.com"}
	_, err = h.compute(Options{}, web)
	require.ErrorIs(t, err, lb.ErrRouteClash)
	assert.Contains(t, err.Error(), "(path /, shop.example.com)")
	web.Service.HTTP.Aliases = []string{"other.example.com"}
	_, err = h.compute(Options{}, web)
	require.NoError(t, err)
}
