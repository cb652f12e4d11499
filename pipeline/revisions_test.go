package pipeline

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/executor"
	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/history"
	"github.com/deckhq/deck/providers/lb"
	lbfake "github.com/deckhq/deck/providers/lb/fake"
)

func withGreeting(s manifest.ServiceSpec, g string) manifest.ServiceSpec {
	s.Task.Variables = map[string]string{"GREETING": g}
	s.Deployment.CircuitBreaker.Rollback = true
	return s
}

func (r *rig) history(t *testing.T) []history.Entry {
	t.Helper()
	s := r.session(t)
	entries, err := s.history().List(context.Background(), "web")
	require.NoError(t, err)
	return entries
}

func outcomes(entries []history.Entry) map[int]history.Outcome {
	out := map[int]history.Outcome{}
	for _, e := range entries {
		out[e.Number] = e.Outcome
	}
	return out
}

func greetings(r *rig) map[string]int {
	out := map[string]int{}
	for _, h := range []string{"h1", "h2"} {
		for _, task := range r.cloud.Host(h).Tasks() {
			if task.Running() {
				out[r.cloud.Host(h).TaskSpec(task.ContainerID).Env["GREETING"]]++
			}
		}
	}
	return out
}

// A revision whose tasks never pass trips the breaker; the run rolls back to the last
// completed revision, fails, and records both outcomes.
func TestBreakerRollsBackToTheLastCompletedRevision(t *testing.T) {
	r := newRig(t, 2)
	_, err := r.deploy(t, withGreeting(webService(4), "v1"))
	require.NoError(t, err)
	_, err = r.deploy(t, withGreeting(webService(4), "v2"))
	require.NoError(t, err)
	for _, h := range []string{"h1", "h2"} {
		r.cloud.Host(h).Healthy = func(s providers.TaskSpec) bool { return s.Env["GREETING"] != "v3" }
	}
	var mu sync.Mutex
	var events []executor.Event
	d := Deploy{Target: Target{App: r.app, Env: r.env, Services: []manifest.ServiceSpec{withGreeting(webService(4), "v3")}, Dialer: r.cloud},
		Events: func(e executor.Event) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, e)
		}}
	out, err := d.Run(context.Background())
	if out.Session != nil {
		out.Session.Close()
	}
	require.Error(t, err)
	var rb *RolledBackError
	require.ErrorAs(t, err, &rb)
	mu.Lock()
	sawBreaker := false
	for _, e := range events {
		assert.False(t, e.Time.IsZero(), "every progress event has its time: %+v", e)
		sawBreaker = sawBreaker || e.Kind == executor.EventBreaker
	}
	mu.Unlock()
	assert.True(t, sawBreaker, "the breaker's rollback is reported")
	assert.Equal(t, 3, rb.Failed)
	assert.Equal(t, 2, rb.To)
	assert.NoError(t, rb.Rollback)
	// 4 start at once and fail; 2 replacements are started before the third failure trips
	// the breaker; they fail too and are reported.
	assert.GreaterOrEqual(t, len(executor.Failures(err)), 3, "ECS's minimum threshold")
	assert.Contains(t, err.Error(), "rolled back to revision 2")
	assert.Equal(t, map[string]int{"v2": 4}, greetings(r), "the old revision serves, nothing of v3 is left")
	assert.Equal(t, map[int]history.Outcome{1: history.Completed, 2: history.Completed, 3: history.RolledBack},
		outcomes(r.history(t)))
	assert.Equal(t, map[string]int{"web": 3}, out.Revisions)
	// The old tasks were never stopped, so the rollback had nothing to undo: it is a
	// rollback all the same, for the summary, the report and the event log alike.
	require.Len(t, out.Rollbacks, 1)
	assert.Equal(t, "web", out.Rollbacks[0].Name)
	assert.NoError(t, out.Rollbacks[0].Err)
}

// Without rollback, a tripped breaker fails the revision and leaves the old tasks.
func TestBreakerWithoutRollbackFails(t *testing.T) {
	r := newRig(t, 2)
	_, err := r.deploy(t, withGreeting(webService(2), "v1"))
	require.NoError(t, err)
	for _, h := range []string{"h1", "h2"} {
		r.cloud.Host(h).Healthy = func(s providers.TaskSpec) bool { return s.Env["GREETING"] != "v2" }
	}
	bad := withGreeting(webService(2), "v2")
	bad.Deployment.CircuitBreaker.Rollback = false
	_, err = r.deploy(t, bad)
	var be *executor.BreakerError
	require.ErrorAs(t, err, &be)
	var rb *RolledBackError
	assert.NotErrorAs(t, err, &rb)
	assert.Equal(t, map[string]int{"v1": 2}, greetings(r))
	assert.Equal(t, map[int]history.Outcome{1: history.Completed, 2: history.Failed}, outcomes(r.history(t)))
}

// deck rollback --to 1 after three revisions deploys revision 1's task definition as
// recorded, and records it as revision 4, a rollback of 1.
func TestRollbackToAKeptRevision(t *testing.T) {
	r := newRig(t, 2)
	for _, g := range []string{"v1", "v2", "v3"} {
		_, err := r.deploy(t, withGreeting(webService(2), g))
		require.NoError(t, err)
	}
	// The manifest now says v4; the rollback takes the task definition from revision 1.
	d := Deploy{Target: Target{App: r.app, Env: r.env, Services: []manifest.ServiceSpec{withGreeting(webService(2), "v4")}, Dialer: r.cloud},
		Rollback: &RollbackTarget{Service: "web", To: 1}}
	out, err := d.Run(context.Background())
	out.Session.Close()
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"v1": 2}, greetings(r))
	entries := r.history(t)
	require.Len(t, entries, 4)
	assert.Equal(t, history.KindRollback, entries[3].Kind)
	assert.Equal(t, 1, entries[3].RollbackOf)
	assert.Equal(t, entries[0].ID, entries[3].ID, "the same task definition")
	assert.Equal(t, history.Completed, entries[3].Outcome)

	// With no --to: back to the completed revision before the current one (3).
	d.Rollback = &RollbackTarget{Service: "web"}
	out, err = d.Run(context.Background())
	out.Session.Close()
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"v3": 2}, greetings(r))

	d.Rollback = &RollbackTarget{Service: "web", To: 9}
	out, err = d.Run(context.Background())
	out.Session.Close()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "service web has no revision 9; kept revisions: 1 (completed)")
}

// A revision that deployed fine and whose tasks then all crashed is the one a rollback
// without --to leaves, though none of its tasks runs: the emergency rollback is for it.
func TestRollbackLeavesARevisionWhoseTasksAllCrashed(t *testing.T) {
	r := newRig(t, 2)
	for _, g := range []string{"v1", "v2"} {
		_, err := r.deploy(t, withGreeting(webService(2), g))
		require.NoError(t, err)
	}
	for _, h := range []string{"h1", "h2"} {
		for _, tk := range r.cloud.Host(h).Tasks() {
			r.cloud.Host(h).Finish(tk.ContainerID, 3)
		}
	}
	d := Deploy{Target: Target{App: r.app, Env: r.env, Services: []manifest.ServiceSpec{withGreeting(webService(2), "v2")}, Dialer: r.cloud},
		Rollback: &RollbackTarget{Service: "web"}}
	out, err := d.Run(context.Background())
	out.Session.Close()
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"v1": 2}, greetings(r), "back to revision 1, not revision 2 again")
	entries := r.history(t)
	require.Len(t, entries, 3)
	assert.Equal(t, 1, entries[2].RollbackOf)
}

// Images of revisions older than the kept ones are removed from the hosts; the kept ones
// (and what runs) stay, so deck rollback can use them.
func TestOldRevisionsImagesArePruned(t *testing.T) {
	r := newRig(t, 2)
	var refs []string
	for i := 1; i <= 4; i++ {
		ref := fmt.Sprintf("localhost/deck/shop-web:v%d", i)
		refs = append(refs, ref)
		for _, h := range []string{"h1", "h2"} {
			r.cloud.Host(h).AddImage(ref)
		}
		svc := webService(2)
		svc.Image.Location, svc.Task.Image = ref, ref
		d := Deploy{Target: Target{App: r.app, Env: r.env, Services: []manifest.ServiceSpec{svc}, Dialer: r.cloud}, KeepRevisions: 2}
		out, err := d.Run(context.Background())
		out.Session.Close()
		require.NoError(t, err)
	}
	for _, h := range []string{"h1", "h2"} {
		imgs, err := r.cloud.Host(h).ListImages(context.Background(), "localhost/deck/shop-web:")
		require.NoError(t, err)
		var have []string
		for _, im := range imgs {
			have = append(have, im.Ref)
		}
		assert.ElementsMatch(t, refs[2:], have, "the 2 newest revisions' images are kept on %s", h)
	}
}

// A routed service's deploy goes through the environment's balancer, read as soon as its
// host is connected: the route holds the tasks, and a second deploy plans nothing.
func TestDeployThroughABalancer(t *testing.T) {
	_, b, target := routedWeb(t)
	run := func() *Outcome {
		d := Deploy{Target: target, HTTPClient: &http.Client{Transport: answer200{}}}
		out, err := d.Run(context.Background())
		require.NoError(t, err)
		out.Session.Close()
		return out
	}
	first := run()
	require.Equal(t, 1, len(first.Plan.Changes)-first.Plan.TaskChanges(), "the route is created")
	routes, err := b.Routes(context.Background(), "shop", "prod")
	require.NoError(t, err)
	assert.ElementsMatch(t, first.Endpoints("web"), routes["web"].Targets)
	assert.Len(t, routes["web"].Targets, 2)
	second := run()
	assert.True(t, second.Plan.Empty(), "%+v", second.Plan.Changes)
}

// routedWeb is a rig of 2 hosts whose environment has the fake balancer edge, and the
// target of 2 tasks of web routed on /.
func routedWeb(t *testing.T) (*rig, *lbfake.Balancer, Target) {
	t.Helper()
	r := newRig(t, 2)
	r.env.LoadBalancers = []manifest.LoadBalancerSpec{{Name: "edge", Host: "h1", Listen: "10.0.0.1:80", Admin: "/run/caddy.sock"}}
	b := lbfake.New("edge")
	open := func(manifest.LoadBalancerSpec, func(context.Context) (net.Conn, error)) (lb.Balancer, error) {
		return b, nil
	}
	svc := webService(2)
	svc.Task.Healthcheck, svc.Task.Port = nil, 8080
	svc.HTTP = &manifest.HTTP{Path: "/", Healthcheck: manifest.TargetHealthcheck{Path: "/"}}
	return r, b, Target{App: r.app, Env: r.env, Services: []manifest.ServiceSpec{svc}, Dialer: r.cloud, OpenBalancer: open}
}

// answer200 is a transport where every target answers 200.
type answer200 struct{}

func (answer200) RoundTrip(*http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}}, nil
}
