package executor

import (
	"context"
	"io"
	"net/http"
	"strings"
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

// answer is an HTTP transport where every target answers status.
type answer int

func (a answer) RoundTrip(*http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: int(a), Body: io.NopCloser(strings.NewReader("")), Header: http.Header{}}, nil
}

// routedRollout runs two old tasks of rev0 behind balancer b and returns the plan that
// replaces them with rev1, in one wave.
func routedRollout(t *testing.T, w *world, b *lbfake.Balancer) (*planner.Plan, []providers.Task) {
	t.Helper()
	r0, r1 := rev("rev0", "img:0", nil), rev("rev1", "img:1", nil)
	var olds []providers.Task
	var addrs []string
	for i, h := range w.hosts {
		h.AddImage("img:0")
		h.AddImage("img:1")
		spec := TaskSpec(TaskInput{App: "app", Env: "test", Host: h.Name(), TaskID: "o" + string(rune('1'+i)), Rev: r0})
		task, err := h.Run(context.Background(), spec)
		require.NoError(t, err)
		task.Host = h.Name()
		olds = append(olds, task)
		addrs = append(addrs, task.Address(h.Spec().Address))
	}
	route := lb.Route{App: "app", Env: "test", Service: "web", Path: "/", Targets: addrs}
	require.NoError(t, b.Put(context.Background(), route))
	before := b.Writes()
	require.Equal(t, 1, before)
	plan := &planner.Plan{App: "app", Env: "test", Revisions: map[string]planner.Revision{"rev1": r1},
		Routes: map[string]lb.Route{"web": route},
		Services: []planner.ServicePlan{{Name: "web", Revision: "rev1", Desired: 2, Waves: 1, BreakerThreshold: 3,
			HTTP: &manifest.HTTP{DeregistrationDelay: 10 * time.Second, Healthcheck: manifest.TargetHealthcheck{Path: "/healthz", HealthyThreshold: 2}}}}}
	for i, o := range olds {
		plan.Changes = append(plan.Changes, planner.Change{Action: planner.Replace, Kind: planner.KindTask, Service: "web",
			Host: o.Host, TaskID: "n" + string(rune('1'+i)), Revision: "rev1",
			Old: &planner.TaskRef{Host: o.Host, TaskID: o.TaskID, ContainerID: o.ContainerID, Revision: "rev0", Address: addrs[i]}})
	}
	return plan, olds
}

// One change per rollout step: the new tasks are registered in the change that
// deregisters the old ones, and the old ones stop only once their requests drained.
func TestRolloutRegistersDrainsThenStops(t *testing.T) {
	w := newWorld(t, 2)
	b := lbfake.New("edge")
	plan, olds := routedRollout(t, w, b)
	b.SetInFlight(plan.Changes[0].Old.Address, 1) // a request still in flight to the first old task

	o := w.opts()
	o.Balancers = []lb.Balancer{b}
	o.HTTPClient = &http.Client{Transport: answer(200)}
	done := make(chan error, 1)
	var res *Result
	go func() {
		var err error
		res, err = Apply(context.Background(), plan, o)
		done <- err
	}()
	require.Eventually(t, func() bool { return len(w.kinds(EventDraining)) > 0 }, 5*time.Second, time.Millisecond)
	routes, err := b.Routes(context.Background(), "app", "test")
	require.NoError(t, err)
	r := routes["web"]
	assert.Len(t, r.Targets, 2, "the new tasks are registered")
	assert.ElementsMatch(t, []string{olds[0].Address("10.0.0.1"), olds[1].Address("10.0.0.2")}, r.Draining)
	assert.Equal(t, 2, b.Writes(), "registering and deregistering is one change")
	first, err := w.hosts[0].Inspect(context.Background(), olds[0].ContainerID)
	require.NoError(t, err)
	assert.True(t, first.Running(), "a task with a request in flight is not stopped")

	b.SetInFlight(plan.Changes[0].Old.Address, 0)
	require.NoError(t, <-done)
	assert.Equal(t, 2, res.Stopped())
	routes, _ = b.Routes(context.Background(), "app", "test")
	assert.Empty(t, routes["web"].Draining, "the drained addresses are dropped")
	var created []string
	for _, t := range res.Services[0].Created {
		created = append(created, t.Address)
	}
	assert.ElementsMatch(t, created, routes["web"].Targets)
	assert.Equal(t, 3, b.Writes(), "one change for the step, one to drop the drained")
}

// A target that fails the load balancer's health check is never registered: the task
// fails, the breaker replaces it until it trips, and the old tasks keep serving.
func TestTargetThatFailsItsCheckIsNeverRegistered(t *testing.T) {
	w := newWorld(t, 2)
	b := lbfake.New("edge")
	plan, _ := routedRollout(t, w, b)
	hc := &plan.Services[0].HTTP.Healthcheck
	hc.GracePeriod, hc.Interval, hc.Timeout = 0, 50*time.Millisecond, 50*time.Millisecond
	o := w.opts()
	o.Balancers = []lb.Balancer{b}
	o.HTTPClient = &http.Client{Transport: answer(500)}
	_, err := Apply(context.Background(), plan, o)
	var be *BreakerError
	require.ErrorAs(t, err, &be)
	assert.GreaterOrEqual(t, len(be.Failed), 3)
	fs := Failures(err)
	require.NotEmpty(t, fs)
	assert.Contains(t, fs[0].StopReason(), "failed the load balancer's health check within its grace period 0s: GET /healthz: 500 Internal Server Error")
	routes, _ := b.Routes(context.Background(), "app", "test")
	assert.Equal(t, plan.Routes["web"].Targets, routes["web"].Targets, "the old tasks are the only targets")
	assert.Equal(t, 1, b.Writes(), "nothing was written")
	for _, h := range w.hosts {
		assert.Len(t, h.Tasks(), 1, "only the old task is left on %s", h.Name())
	}
}

// Several balancers get the same route, one change each per rollout step.
func TestEveryBalancerGetsTheSameRoute(t *testing.T) {
	w := newWorld(t, 2)
	b1, b2 := lbfake.New("edge"), lbfake.New("edge2")
	plan, _ := routedRollout(t, w, b1)
	require.NoError(t, b2.Put(context.Background(), plan.Routes["web"]))
	o := w.opts()
	o.Balancers = []lb.Balancer{b1, b2}
	o.HTTPClient = &http.Client{Transport: answer(200)}
	_, err := Apply(context.Background(), plan, o)
	require.NoError(t, err)
	r1, err := b1.Routes(context.Background(), "app", "test")
	require.NoError(t, err)
	r2, err := b2.Routes(context.Background(), "app", "test")
	require.NoError(t, err)
	assert.Equal(t, r1["web"], r2["web"])
	assert.Len(t, r1["web"].Targets, 2)
	assert.Equal(t, 3, b1.Writes())
	assert.Equal(t, 3, b2.Writes())
}

// A scale-in's task is drained before it stops: deregistered, then stopped only once no
// request is in flight to it.
func TestScaleInDrainsTheTaskBeforeItStops(t *testing.T) {
	w := newWorld(t, 2)
	b := lbfake.New("edge")
	plan, olds := routedRollout(t, w, b)
	gone := plan.Changes[1].Old
	plan.Changes = []planner.Change{{Action: planner.Destroy, Kind: planner.KindTask, Service: "web", Host: gone.Host, Old: gone}}
	plan.Services[0].Revision, plan.Services[0].Desired = "", 1
	b.SetInFlight(gone.Address, 1)

	o := w.opts()
	o.Balancers = []lb.Balancer{b}
	done := make(chan error, 1)
	go func() {
		_, err := Apply(context.Background(), plan, o)
		done <- err
	}()
	require.Eventually(t, func() bool { return len(w.kinds(EventDraining)) > 0 }, 5*time.Second, time.Millisecond)
	routes, err := b.Routes(context.Background(), "app", "test")
	require.NoError(t, err)
	assert.Equal(t, []string{plan.Changes[0].Old.Address}, routes["web"].Draining)
	task, err := w.hosts[1].Inspect(context.Background(), olds[1].ContainerID)
	require.NoError(t, err)
	assert.True(t, task.Running(), "a task with a request in flight is not stopped")

	b.SetInFlight(gone.Address, 0)
	require.NoError(t, <-done)
	task, err = w.hosts[1].Inspect(context.Background(), olds[1].ContainerID)
	assert.True(t, err != nil || !task.Running(), "stopped once drained")
}
