package executor

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/lb"
	lbfake "github.com/deckhq/deck/providers/lb/fake"
)

// flaky is an in-memory balancer whose Nth Put (1-based) fails: Caddy's admin API
// reachable for one call and not the next.
type flaky struct {
	*lbfake.Balancer
	mu     sync.Mutex
	puts   int
	failAt map[int]bool
}

func (f *flaky) Put(ctx context.Context, r lb.Route) error {
	f.mu.Lock()
	f.puts++
	fail := f.failAt[f.puts]
	f.mu.Unlock()
	if fail {
		return errors.New("admin API: connection reset (test)")
	}
	return f.Balancer.Put(ctx, r)
}

// A recreate rollout (every old task stops first) whose drain write fails once: no old
// task stops, so the balancer must still route to them. The failed run's last write must
// not apply the deregistration that failed, which would leave every live task out of the
// route (zero targets: the service down while its old tasks run).
func TestAFailedDrainWriteKeepsTheLiveTasksRouted(t *testing.T) {
	w := newWorld(t, 2)
	inner := lbfake.New("edge")
	plan, olds := routedRollout(t, w, inner)
	for i := range plan.Changes {
		plan.Changes[i].StopFirst = true
	}
	b := &flaky{Balancer: inner, failAt: map[int]bool{1: true}}
	o := w.opts()
	o.Balancers = []lb.Balancer{b}
	o.HTTPClient = &http.Client{Transport: answer(200)}
	_, err := Apply(context.Background(), plan, o)
	require.Error(t, err)

	for i, old := range olds {
		task, ierr := w.hosts[i].Inspect(context.Background(), old.ContainerID)
		require.NoError(t, ierr)
		require.True(t, task.Running(), "the old task was never stopped")
	}
	routes, rerr := inner.Routes(context.Background(), "app", "test")
	require.NoError(t, rerr)
	assert.ElementsMatch(t, []string{plan.Changes[0].Old.Address, plan.Changes[1].Old.Address}, routes["web"].Targets,
		"both old tasks still run and nothing replaced them: the balancer must still send them requests (route now: %+v)", routes["web"])
}

// A stop-first task whose stop fails keeps running, and nothing of the wave starts
// (TestApplyStartsNothingWhenAStopFirstTaskCannotBeStopped): it must stay in the route,
// not be dropped as if it had stopped.
func TestAFailedStopKeepsTheLiveTaskRouted(t *testing.T) {
	w := newWorld(t, 2)
	b := lbfake.New("edge")
	plan, olds := routedRollout(t, w, b)
	for i := range plan.Changes {
		plan.Changes[i].StopFirst = true
	}
	w.hosts[0].FailStop = func(id string) bool { return id == olds[0].ContainerID }
	o := w.opts()
	o.Balancers = []lb.Balancer{b}
	o.HTTPClient = &http.Client{Transport: answer(200)}
	_, err := Apply(context.Background(), plan, o)
	require.Error(t, err)

	task, ierr := w.hosts[0].Inspect(context.Background(), olds[0].ContainerID)
	require.NoError(t, ierr)
	require.True(t, task.Running(), "its stop failed: it still runs")
	routes, rerr := b.Routes(context.Background(), "app", "test")
	require.NoError(t, rerr)
	r := routes["web"]
	assert.Contains(t, append(r.Targets, r.Draining...), plan.Changes[0].Old.Address,
		"a task that still runs vanished from the balancer (route now: targets %v, draining %v)", r.Targets, r.Draining)
}

// The deploy lock is lost while a wave starts its tasks: every create is refused by the
// fence. That is no failure of the revision: a wave as large as the threshold must not
// "trip the circuit breaker", which would tell the user (and deck deploy -o json's
// circuit_breaker_tripped) that a good revision is bad.
func TestLockLossIsNoBreakerTrip(t *testing.T) {
	w := newWorld(t, 3)
	r2 := rev("rev2", "img:2", cmdCheck)
	changes := replaceOnEachHost(t, w)
	plan := &planner.Plan{App: "app", Env: "test", Revisions: map[string]planner.Revision{"rev2": r2},
		Services: []planner.ServicePlan{{Name: "web", Revision: "rev2", Desired: 3, Waves: 1, BreakerThreshold: 3}},
		Changes:  changes}
	o := w.opts()
	o.Fence = func() error { return errors.New("taken over by ci@runner (epoch 8)") }
	res, err := Apply(context.Background(), plan, o)
	require.ErrorIs(t, err, ErrLockLost)
	var be *BreakerError
	assert.False(t, errors.As(err, &be), "a lost lock is not the revision's failure: %v", err)
	assert.False(t, res.Services[0].Tripped, "the result says the circuit breaker tripped")
	assert.Empty(t, w.kinds(EventBreaker), "an EventBreaker was emitted for a lost lock")
}

// newRouted is a plan that starts the first tasks of a new routed service "search" on
// each host, with the route still to be created on the balancer.
func newRouted(t *testing.T, w *world) *planner.Plan {
	t.Helper()
	r1 := rev("rev1", "img:1", nil)
	route := lb.Route{App: "app", Env: "test", Service: "web", Path: "/search"}
	plan := &planner.Plan{App: "app", Env: "test", Revisions: map[string]planner.Revision{"rev1": r1},
		Routes: map[string]lb.Route{"web": route},
		Services: []planner.ServicePlan{{Name: "web", Revision: "rev1", Desired: len(w.hosts), Waves: 1, BreakerThreshold: 1,
			HTTP: &manifest.HTTP{DeregistrationDelay: time.Second, Healthcheck: manifest.TargetHealthcheck{Path: "/", HealthyThreshold: 1}}}},
		Changes: []planner.Change{{Action: planner.Create, Kind: planner.KindRoute, Service: "web", LB: "edge", Route: &route}}}
	for i, h := range w.hosts {
		h.AddImage("img:1")
		plan.Changes = append(plan.Changes, planner.Change{Action: planner.Create, Kind: planner.KindTask, Service: "web",
			Host: h.Name(), TaskID: "n" + string(rune('1'+i)), Revision: "rev1"})
	}
	return plan
}

// A new service's route is written with its first targets, in one write: an empty one
// would take its path from the route that answers it now (another service's /) and
// answer 503 while the first tasks start.
func TestANewRouteIsWrittenWithItsFirstTargets(t *testing.T) {
	w := newWorld(t, 2)
	b := lbfake.New("edge")
	plan := newRouted(t, w)
	o := w.opts()
	o.Balancers = []lb.Balancer{b}
	o.HTTPClient = &http.Client{Transport: answer(200)}
	_, err := Apply(context.Background(), plan, o)
	require.NoError(t, err)
	assert.Equal(t, 1, b.Writes(), "one write, with the targets")
	routes, err := b.Routes(context.Background(), "app", "test")
	require.NoError(t, err)
	assert.Len(t, routes["web"].Targets, 2)
}

// A new service whose first tasks all fail leaves the balancer as it was: no route.
func TestANewServiceThatFailsLeavesNoEmptyRoute(t *testing.T) {
	w := newWorld(t, 2)
	b := lbfake.New("edge")
	plan := newRouted(t, w)
	for _, h := range w.hosts {
		h.Exits = func(providers.TaskSpec) (int, bool) { return 1, true }
	}
	o := w.opts()
	o.Balancers = []lb.Balancer{b}
	o.HTTPClient = &http.Client{Transport: answer(200)}
	_, err := Apply(context.Background(), plan, o)
	require.Error(t, err)
	assert.Zero(t, b.Writes(), "nothing was written to the balancer")
	routes, err := b.Routes(context.Background(), "app", "test")
	require.NoError(t, err)
	assert.NotContains(t, routes, "web")
}

// Deleting a routed service withdraws its route while its tasks drain: new requests go to
// the routes after it (another service's /) instead of to a route with no target (503),
// and the route is deleted once its tasks are stopped.
func TestDeleteWithdrawsTheRouteBeforeItsTasksStop(t *testing.T) {
	w := newWorld(t, 2)
	b := &recording{Balancer: lbfake.New("edge")}
	plan, olds := routedRollout(t, w, b.Balancer)
	route := plan.Routes["web"]
	var changes []planner.Change
	for _, c := range plan.Changes {
		changes = append(changes, planner.Change{Action: planner.Destroy, Kind: planner.KindTask, Service: "web", Host: c.Host, Old: c.Old})
	}
	changes = append(changes, planner.Change{Action: planner.Destroy, Kind: planner.KindRoute, Service: "web", LB: "edge", Route: &route})
	del := &planner.Plan{App: "app", Env: "test", Services: []planner.ServicePlan{{Name: "web", Delete: true, Waves: 1}}, Changes: changes}
	o := w.opts()
	o.Balancers = []lb.Balancer{b}
	_, err := Apply(context.Background(), del, o)
	require.NoError(t, err)
	require.NotEmpty(t, b.puts)
	first := b.puts[0]
	assert.True(t, first.Withdrawn, "the first write withdraws the route")
	assert.Empty(t, first.Targets)
	assert.ElementsMatch(t, []string{olds[0].Address(w.hosts[0].Spec().Address), olds[1].Address(w.hosts[1].Spec().Address)}, first.Draining)
	routes, err := b.Routes(context.Background(), "app", "test")
	require.NoError(t, err)
	assert.NotContains(t, routes, "web", "deleted once the tasks stopped")
	for _, h := range w.hosts {
		assert.Empty(t, h.Tasks())
	}
}

// recording is an in-memory balancer that keeps every route put.
type recording struct {
	*lbfake.Balancer
	mu   sync.Mutex
	puts []lb.Route
}

func (r *recording) Put(ctx context.Context, rt lb.Route) error {
	r.mu.Lock()
	r.puts = append(r.puts, rt)
	r.mu.Unlock()
	return r.Balancer.Put(ctx, rt)
}
