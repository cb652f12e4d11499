package executor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/fake"
)

type world struct {
	cloud  *fake.Cloud
	hosts  []*fake.Host
	fleet  *providers.Fleet
	events []Event
	mu     sync.Mutex
}

func newWorld(t *testing.T, n int) *world {
	t.Helper()
	w := &world{cloud: fake.NewCloud()}
	var hs []providers.Host
	for i := 1; i <= n; i++ {
		name := "h" + string(rune('0'+i))
		h := w.cloud.AddHost(manifest.HostSpec{Name: name, URL: "fake://" + name, Address: "10.0.0." + string(rune('0'+i))},
			manifest.Resources{CPU: 4096, Memory: 8192})
		w.hosts = append(w.hosts, h)
		hs = append(hs, h)
	}
	w.fleet = providers.NewFleet(hs...)
	return w
}

func (w *world) opts() Options {
	return Options{Fleet: w.fleet, MinRunning: 10 * time.Millisecond, PollInterval: time.Millisecond,
		Events: func(e Event) { w.mu.Lock(); w.events = append(w.events, e); w.mu.Unlock() }}
}

func (w *world) kinds(kind EventKind) []Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []Event
	for _, e := range w.events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

func rev(id, image string, hc *manifest.Healthcheck) planner.Revision {
	return planner.Revision{ID: id, Service: "web", Task: manifest.TaskDef{Image: image, Port: 8080, CPU: 256, Memory: 128,
		StopTimeout: time.Second, Healthcheck: hc, Variables: map[string]string{"GREETING": "hi"}}}
}

var cmdCheck = &manifest.Healthcheck{Command: []string{"/hello", "-check"}, Interval: 50 * time.Millisecond, Timeout: 50 * time.Millisecond, Retries: 2}

func TestApplyCreatesTasksWithLabelsEnvAndImages(t *testing.T) {
	w := newWorld(t, 2)
	r := rev("rev1", "localhost/deck/app-web:abc", cmdCheck)
	r.Task.Volumes = []manifest.Volume{{Type: "volume", Source: "data", Target: "/data"},
		{Type: "bind", Source: "/srv/logs", Target: "/logs", ReadOnly: true}}
	plan := &planner.Plan{App: "app", Env: "test", Revisions: map[string]planner.Revision{"rev1": r},
		Services: []planner.ServicePlan{{Name: "web", Revision: "rev1", Desired: 3, Waves: 1}},
		Changes: []planner.Change{
			{Action: planner.Create, Kind: planner.KindTask, Service: "web", Host: "h1", TaskID: "t1", Revision: "rev1"},
			{Action: planner.Create, Kind: planner.KindTask, Service: "web", Host: "h2", TaskID: "t2", Revision: "rev1"},
			{Action: planner.Create, Kind: planner.KindTask, Service: "web", Host: "h2", TaskID: "t3", Revision: "rev1"},
		}}
	o := w.opts()
	o.Builds = map[string]manifest.BuildSpec{r.Task.Image: {Context: "/src"}}
	res, err := Apply(context.Background(), plan, o)
	require.NoError(t, err)
	require.Len(t, res.Services, 1)
	assert.Len(t, res.Services[0].Created, 3)

	// Built once on the builder (h1 by default), copied to h2 by export and load.
	assert.Contains(t, w.hosts[0].Calls, "build localhost/deck/app-web:abc")
	assert.Contains(t, w.hosts[1].Calls, "load localhost/deck/app-web:abc")
	assert.NotContains(t, w.hosts[1].Calls, "build localhost/deck/app-web:abc")

	tasks := w.hosts[1].Tasks()
	require.Len(t, tasks, 2)
	spec := w.hosts[1].TaskSpec(tasks[0].ContainerID)
	assert.Equal(t, "app-test-web-t2", spec.Name)
	assert.Equal(t, "rev1", spec.Labels[providers.LabelRevision])
	assert.Equal(t, "t2", spec.Labels[providers.LabelTask])
	assert.Equal(t, "8080", spec.Labels[providers.LabelPort])
	assert.Contains(t, spec.Labels[providers.LabelSpec], `"GREETING":"hi"`)
	assert.Equal(t, "hi", spec.Env["GREETING"])
	assert.Equal(t, "t2", spec.Env["DECK_TASK_ID"])
	assert.Equal(t, []string{"/hello", "-check"}, spec.Healthcheck)
	assert.Equal(t, int64(256), spec.CPUShares)
	assert.Equal(t, int64(manifest.DefaultLogMaxSize), spec.LogMaxSize, "a manifest without logging gets deck's cap")
	assert.Equal(t, []manifest.Volume{{Type: "volume", Source: "app.test.data", Target: "/data"},
		{Type: "bind", Source: "/srv/logs", Target: "/logs", ReadOnly: true}}, spec.Volumes,
		"named volumes are namespaced by app and environment; bind mounts are not")
	assert.Len(t, w.kinds(EventTaskHealthy), 3)
	for _, c := range res.Services[0].Created {
		want := map[string]string{"h1": "10.0.0.1:", "h2": "10.0.0.2:"}[c.Host]
		assert.True(t, strings.HasPrefix(c.Address, want), "task %s on %s answers at %s", c.TaskID, c.Host, c.Address)
	}
}

// replaceOne is one host running task old1 of rev1, and a plan replacing it with new1 of rev2.
func replaceOne(t *testing.T) (*world, *fake.Host, providers.Task, *planner.Plan) {
	t.Helper()
	w := newWorld(t, 1)
	h := w.hosts[0]
	h.AddImage("img:1")
	h.AddImage("img:2")
	old, err := h.Run(context.Background(), TaskSpec(TaskInput{App: "app", Env: "test", Host: "h1", TaskID: "old1", Rev: rev("rev1", "img:1", nil)}))
	require.NoError(t, err)
	r2 := rev("rev2", "img:2", cmdCheck)
	plan := &planner.Plan{App: "app", Env: "test", Revisions: map[string]planner.Revision{"rev2": r2},
		Services: []planner.ServicePlan{{Name: "web", Revision: "rev2", Desired: 1, Waves: 1}},
		Changes: []planner.Change{{Action: planner.Replace, Kind: planner.KindTask, Service: "web", Host: "h1", TaskID: "new1",
			Revision: "rev2", Old: &planner.TaskRef{Host: "h1", TaskID: "old1", ContainerID: old.ContainerID, Revision: "rev1"}}}}
	return w, h, old, plan
}

func TestApplyStopsOldOnlyAfterReplacementIsHealthy(t *testing.T) {
	w, h, old, plan := replaceOne(t)
	_, err := Apply(context.Background(), plan, w.opts())
	require.NoError(t, err)
	// create of the new task comes before the stop of the old one.
	assert.Equal(t, []string{"create app-test-web-old1", "start " + old.ContainerID, "create app-test-web-new1",
		"start h1-c000002", "stop " + old.ContainerID, "remove " + old.ContainerID}, h.Calls)
	tasks := h.Tasks()
	require.Len(t, tasks, 1)
	assert.Equal(t, "new1", tasks[0].TaskID)
}

func TestApplyUnhealthyTaskIsRemovedAndOldKeepsServing(t *testing.T) {
	w, h, old, plan := replaceOne(t)
	h.Healthy = func(s providers.TaskSpec) bool { return s.Labels[providers.LabelRevision] != "rev2" }
	_, err := Apply(context.Background(), plan, w.opts())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "service web: task new1 on h1: not healthy")
	tasks := h.Tasks()
	require.Len(t, tasks, 1, "the failed task is removed, nothing orphaned")
	assert.Equal(t, old.ContainerID, tasks[0].ContainerID)
	assert.True(t, tasks[0].Running(), "the old task keeps serving")
	assert.Len(t, w.kinds(EventServiceFailed), 1)
}

func TestApplyExitedTaskFailsFast(t *testing.T) {
	w := newWorld(t, 1)
	h := w.hosts[0]
	h.AddImage("img:2")
	slow := &manifest.Healthcheck{Command: []string{"true"}, Interval: time.Hour, Timeout: time.Second, Retries: 3}
	h.Healthy = func(s providers.TaskSpec) bool { return false }
	r2 := rev("rev2", "img:2", slow)
	plan := &planner.Plan{App: "app", Env: "test", Revisions: map[string]planner.Revision{"rev2": r2},
		Services: []planner.ServicePlan{{Name: "web", Revision: "rev2", Desired: 1, Waves: 1}},
		Changes:  []planner.Change{{Action: planner.Create, Kind: planner.KindTask, Service: "web", Host: "h1", TaskID: "new1", Revision: "rev2"}}}
	go func() {
		// The container crashes shortly after it starts: once it runs (set before the
		// start, its state would be overwritten by the start and the task would never end).
		for {
			if ts := h.Tasks(); len(ts) == 1 && ts[0].Running() {
				h.SetState(ts[0].ContainerID, "exited")
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	done := make(chan error, 1)
	go func() { _, err := Apply(context.Background(), plan, w.opts()); done <- err }()
	select {
	case err := <-done:
		require.Error(t, err)
		assert.Contains(t, err.Error(), "container exited")
	case <-time.After(30 * time.Second):
		t.Fatal("an exited task must fail the wave without waiting for the health deadline (3h)")
	}
	assert.Empty(t, h.Tasks())
}

func TestApplyStopFirstAndDestroyRunBeforeStarts(t *testing.T) {
	w := newWorld(t, 1)
	h := w.hosts[0]
	h.AddImage("img:1")
	a, _ := h.Run(context.Background(), TaskSpec(TaskInput{App: "app", Env: "test", Host: "h1", TaskID: "a", Rev: rev("rev1", "img:1", nil)}))
	b, _ := h.Run(context.Background(), TaskSpec(TaskInput{App: "app", Env: "test", Host: "h1", TaskID: "b", Rev: rev("rev1", "img:1", nil)}))
	h.Calls = nil
	r := rev("rev2", "img:1", nil)
	plan := &planner.Plan{App: "app", Env: "test", Revisions: map[string]planner.Revision{"rev2": r},
		Services: []planner.ServicePlan{{Name: "web", Revision: "rev2", Desired: 1, Waves: 1}},
		Changes: []planner.Change{
			{Action: planner.Destroy, Kind: planner.KindTask, Service: "web", Old: &planner.TaskRef{Host: "h1", TaskID: "a", ContainerID: a.ContainerID}},
			{Action: planner.Replace, Kind: planner.KindTask, Service: "web", Host: "h1", TaskID: "c", Revision: "rev2", StopFirst: true,
				Old: &planner.TaskRef{Host: "h1", TaskID: "b", ContainerID: b.ContainerID}},
		}}
	res, err := Apply(context.Background(), plan, w.opts())
	require.NoError(t, err)
	assert.Equal(t, 2, res.Services[0].Stopped)
	require.Len(t, h.Calls, 6)
	assert.Equal(t, "create app-test-web-c", h.Calls[4], "the new task starts after both stops")
}

func TestApplyLeavesTasksOnUnreachableHost(t *testing.T) {
	w := newWorld(t, 2)
	w.hosts[0].AddImage("img:1")
	w.hosts[1].AddImage("img:1")
	lost, _ := w.hosts[1].Run(context.Background(), TaskSpec(TaskInput{App: "app", Env: "test", Host: "h2", TaskID: "lost", Rev: rev("rev1", "img:1", nil)}))
	fleet := providers.NewFleet(w.hosts[0]) // h2 did not answer when the hosts were read
	r := rev("rev1", "img:1", nil)
	plan := &planner.Plan{App: "app", Env: "test", Revisions: map[string]planner.Revision{"rev1": r},
		Services: []planner.ServicePlan{{Name: "web", Revision: "rev1", Desired: 1, Waves: 1}},
		Changes: []planner.Change{{Action: planner.Replace, Kind: planner.KindTask, Service: "web", Host: "h1", TaskID: "moved", Revision: "rev1",
			Reason: planner.Reason{Code: planner.ReasonHostUnreachable, Hosts: []string{"h2"}}, Old: &planner.TaskRef{Host: "h2", TaskID: "lost", ContainerID: lost.ContainerID}}}}
	o := w.opts()
	o.Fleet = fleet
	res, err := Apply(context.Background(), plan, o)
	require.NoError(t, err)
	assert.Equal(t, 1, res.Services[0].Left)
	assert.Len(t, w.hosts[0].Tasks(), 1)
	assert.Len(t, w.kinds(EventTaskLeft), 1)
}

func TestApplySecretsAreStoredPrunedAndNeverInEvents(t *testing.T) {
	w := newWorld(t, 1)
	h := w.hosts[0]
	h.AddImage("img:1")
	const value = "s3cr3t-value"
	digest := SecretDigest("app", "test", "web", "DB_PASSWORD", []byte(value))
	name := SecretName("app", "test", "web", "DB_PASSWORD", digest)
	stale := SecretName("app", "test", "web", "DB_PASSWORD", "0000")
	other := SecretName("app", "test", "web-api", "DB_PASSWORD", "0000")
	require.NoError(t, h.EnsureSecret(context.Background(), stale, []byte("old")))
	require.NoError(t, h.EnsureSecret(context.Background(), other, []byte("other")))
	r := rev("rev1", "img:1", nil)
	r.Task.Secrets = []manifest.SecretRef{{Name: "DB_PASSWORD", Digest: digest}}
	plan := &planner.Plan{App: "app", Env: "test", Revisions: map[string]planner.Revision{"rev1": r},
		Services: []planner.ServicePlan{{Name: "web", Revision: "rev1", Desired: 1, Waves: 1}},
		Changes:  []planner.Change{{Action: planner.Create, Kind: planner.KindTask, Service: "web", Host: "h1", TaskID: "t1", Revision: "rev1"}}}
	o := w.opts()
	o.Secrets = map[string][]byte{name: []byte(value)}
	_, err := Apply(context.Background(), plan, o)
	require.NoError(t, err)
	got, ok := h.Secret(name)
	require.True(t, ok)
	assert.Equal(t, value, string(got))
	_, ok = h.Secret(stale)
	assert.False(t, ok, "a secret value no revision uses is removed")
	_, ok = h.Secret(other)
	assert.True(t, ok, "another service's secrets are left alone")
	spec := h.TaskSpec(h.Tasks()[0].ContainerID)
	assert.Equal(t, []providers.TaskSecret{{Secret: name, Env: "DB_PASSWORD"}}, spec.Secrets)
	for k, v := range spec.Labels {
		assert.NotContains(t, v, value, "label %s", k)
	}
	for _, e := range w.events {
		assert.NotContains(t, e.String(), value)
	}
}

func TestApplyPullsImagesGivenByLocation(t *testing.T) {
	w := newWorld(t, 1)
	w.cloud.Publish("registry.example/web:1")
	r := rev("rev1", "registry.example/web:1", nil)
	plan := &planner.Plan{App: "app", Env: "test", Revisions: map[string]planner.Revision{"rev1": r},
		Services: []planner.ServicePlan{{Name: "web", Revision: "rev1", Desired: 1, Waves: 1}},
		Changes:  []planner.Change{{Action: planner.Create, Kind: planner.KindTask, Service: "web", Host: "h1", TaskID: "t1", Revision: "rev1"}}}
	_, err := Apply(context.Background(), plan, w.opts())
	require.NoError(t, err)
	assert.Contains(t, w.hosts[0].Calls, "pull registry.example/web:1")

	r.Task.Image = "registry.example/missing:1"
	plan.Revisions["rev1"] = r
	_, err = Apply(context.Background(), plan, w.opts())
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "host h1 (fake://h1)") && strings.Contains(err.Error(), "registry.example/missing:1"), err.Error())
}

func TestApplyStartsNothingWhenAStopFirstTaskCannotBeStopped(t *testing.T) {
	w, h, old, plan := replaceOne(t)
	plan.Changes[0].StopFirst = true
	h.FailStop = func(id string) bool { return id == old.ContainerID }
	res, err := Apply(context.Background(), plan, w.opts())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "task old1 on h1 could not be stopped")
	assert.NotContains(t, h.Calls, "create app-test-web-new1", "its room was never freed, so its replacement does not start")
	assert.Equal(t, 0, res.Stopped())
	require.Len(t, h.Tasks(), 1)
	assert.True(t, h.Tasks()[0].Running())
}

func TestApplyStopsAtTheWaveWhoseOldTaskCannotBeStopped(t *testing.T) {
	w := newWorld(t, 1)
	h := w.hosts[0]
	h.AddImage("img:1")
	o1, _ := h.Run(context.Background(), TaskSpec(TaskInput{App: "app", Env: "test", Host: "h1", TaskID: "o1", Rev: rev("rev1", "img:1", nil)}))
	o2, _ := h.Run(context.Background(), TaskSpec(TaskInput{App: "app", Env: "test", Host: "h1", TaskID: "o2", Rev: rev("rev1", "img:1", nil)}))
	h.FailStop = func(id string) bool { return id == o1.ContainerID }
	r2 := rev("rev2", "img:1", cmdCheck)
	plan := &planner.Plan{App: "app", Env: "test", Revisions: map[string]planner.Revision{"rev2": r2},
		Services: []planner.ServicePlan{{Name: "web", Revision: "rev2", Desired: 2, Waves: 2}},
		Changes: []planner.Change{
			{Action: planner.Replace, Kind: planner.KindTask, Service: "web", Host: "h1", TaskID: "n1", Revision: "rev2", Wave: 0,
				Old: &planner.TaskRef{Host: "h1", TaskID: "o1", ContainerID: o1.ContainerID}},
			{Action: planner.Replace, Kind: planner.KindTask, Service: "web", Host: "h1", TaskID: "n2", Revision: "rev2", Wave: 1,
				Old: &planner.TaskRef{Host: "h1", TaskID: "o2", ContainerID: o2.ContainerID}},
		}}
	_, err := Apply(context.Background(), plan, w.opts())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "task o1 on h1 could not be stopped")
	assert.NotContains(t, h.Calls, "create app-test-web-n2", "wave 2 was placed on o1's room and does not start")
}

func TestApplyRunsServicesInPlanOrder(t *testing.T) {
	w := newWorld(t, 1)
	h := w.hosts[0]
	h.AddImage("img:1")
	proxy := rev("rproxy", "img:1", nil)
	proxy.Service = "proxy"
	proxy.Task.HostPort = 80
	old, err := h.Run(context.Background(), TaskSpec(TaskInput{App: "app", Env: "test", Host: "h1", TaskID: "p1", Rev: proxy}))
	require.NoError(t, err)
	web := rev("rweb", "img:1", nil)
	web.Task.HostPort = 80
	// The planner gave web the port proxy frees: proxy's change must be done first.
	plan := &planner.Plan{App: "app", Env: "test", Revisions: map[string]planner.Revision{"rweb": web},
		Services: []planner.ServicePlan{{Name: "proxy", Delete: true, Waves: 1}, {Name: "web", Revision: "rweb", Desired: 1, Waves: 1}},
		Changes: []planner.Change{
			{Action: planner.Destroy, Kind: planner.KindTask, Service: "proxy", StopFirst: true,
				Old: &planner.TaskRef{Host: "h1", TaskID: "p1", ContainerID: old.ContainerID}},
			{Action: planner.Create, Kind: planner.KindTask, Service: "web", Host: "h1", TaskID: "w1", Revision: "rweb"},
		}}
	res, err := Apply(context.Background(), plan, w.opts())
	require.NoError(t, err)
	assert.Equal(t, []string{"proxy", "web"}, []string{res.Services[0].Name, res.Services[1].Name})
	assert.Equal(t, []string{"create app-test-proxy-p1", "start " + old.ContainerID, "stop " + old.ContainerID,
		"remove " + old.ContainerID, "create app-test-web-w1", "start h1-c000002"}, h.Calls)
}

func TestApplyCreateFailureKeepsTheOldTask(t *testing.T) {
	w, h, old, plan := replaceOne(t)
	h.FailCreate = func(s providers.TaskSpec) bool { return s.Labels[providers.LabelTask] == "new1" }
	res, err := Apply(context.Background(), plan, w.opts())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "service web: task new1 on h1: fake: create app-test-web-new1 failed")
	assert.Equal(t, 0, res.Stopped(), "nothing was stopped for a task that never started")
	require.Len(t, h.Tasks(), 1)
	assert.Equal(t, old.ContainerID, h.Tasks()[0].ContainerID)
	assert.True(t, h.Tasks()[0].Running())
}

func TestApplyPutsANewRevisionsSecretsOnEveryReachableHost(t *testing.T) {
	w := newWorld(t, 3)
	w.hosts[0].AddImage("img:1")
	const value = "s3cr3t-value"
	digest := SecretDigest("app", "test", "web", "DB_PASSWORD", []byte(value))
	name := SecretName("app", "test", "web", "DB_PASSWORD", digest)
	r := rev("rev1", "img:1", nil)
	r.Task.Secrets = []manifest.SecretRef{{Name: "DB_PASSWORD", Digest: digest}}
	plan := &planner.Plan{App: "app", Env: "test", Revisions: map[string]planner.Revision{"rev1": r},
		Services: []planner.ServicePlan{{Name: "web", Revision: "rev1", Desired: 1, Waves: 1}},
		Changes:  []planner.Change{{Action: planner.Create, Kind: planner.KindTask, Service: "web", Host: "h1", TaskID: "t1", Revision: "rev1"}}}
	o := w.opts()
	o.Secrets = map[string][]byte{name: []byte(value)}
	_, err := Apply(context.Background(), plan, o)
	require.NoError(t, err)
	for _, h := range w.hosts {
		got, ok := h.Secret(name)
		require.True(t, ok, "host %s has the secret: the controller may place a task of rev1 there", h.Name())
		assert.Equal(t, value, string(got))
	}
	assert.Len(t, w.hosts[1].Tasks(), 0, "only the secret went to h2, no task")
}

// replaceOnEachHost runs task oldN of rev1 (img:1) on each host hN and returns the
// changes that replace each with newN of rev2 (img:2, on every host too).
func replaceOnEachHost(t *testing.T, w *world) []planner.Change {
	t.Helper()
	var changes []planner.Change
	for i, h := range w.hosts {
		h.AddImage("img:1")
		h.AddImage("img:2")
		n := string(rune('1' + i))
		old, err := h.Run(context.Background(), TaskSpec(TaskInput{App: "app", Env: "test", Host: h.Name(), TaskID: "old" + n, Rev: rev("rev1", "img:1", nil)}))
		require.NoError(t, err)
		changes = append(changes, planner.Change{Action: planner.Replace, Kind: planner.KindTask, Service: "web", Host: h.Name(),
			TaskID: "new" + n, Revision: "rev2",
			Old: &planner.TaskRef{Host: h.Name(), TaskID: "old" + n, ContainerID: old.ContainerID, Revision: "rev1"}})
	}
	return changes
}

// TestApplyHostLostMidRolloutIsNoRevisionFailure: a host that stops answering while its
// new task starts fails that task, but the circuit breaker does not count it and no
// replacement is started on the dead host; the other hosts' tasks roll out.
func TestApplyHostLostMidRolloutIsNoRevisionFailure(t *testing.T) {
	w := newWorld(t, 3)
	r2 := rev("rev2", "img:2", cmdCheck)
	changes := replaceOnEachHost(t, w)
	// h2 stops answering as its new task starts.
	w.hosts[1].FailStart = func(providers.TaskSpec) error {
		return fmt.Errorf("starting container: %w: connection refused", providers.ErrUnreachable)
	}
	plan := &planner.Plan{App: "app", Env: "test", Revisions: map[string]planner.Revision{"rev2": r2},
		Services: []planner.ServicePlan{{Name: "web", Revision: "rev2", Desired: 3, Waves: 1, BreakerThreshold: 1,
			Deployment: manifest.Deployment{CircuitBreaker: manifest.CircuitBreaker{Rollback: true}}}},
		Changes: changes}
	res, err := Apply(context.Background(), plan, w.opts())
	require.Error(t, err)
	assert.ErrorIs(t, err, providers.ErrUnreachable)
	assert.Contains(t, err.Error(), "its host stopped answering during the rollout")
	var be *BreakerError
	assert.False(t, errors.As(err, &be), "a lost host does not trip the breaker (threshold 1): %v", err)
	assert.Empty(t, w.kinds(EventRetry), "no replacement on a host that does not answer")
	assert.Equal(t, 2, res.Stopped(), "h1 and h3 rolled out")
	for _, h := range []*fake.Host{w.hosts[0], w.hosts[2]} {
		require.Len(t, h.Tasks(), 1)
		assert.Equal(t, "rev2", h.Tasks()[0].Revision)
	}
}

// TestApplyBreakerStopsTheWaveAtOnce: once the breaker trips, the wave's other new tasks
// stop waiting for their health checks (an hour here) and are removed; only the failures
// up to the threshold count, and the old tasks keep serving.
func TestApplyBreakerStopsTheWaveAtOnce(t *testing.T) {
	w := newWorld(t, 3)
	slow := &manifest.Healthcheck{Command: []string{"true"}, Interval: time.Hour, Timeout: time.Second, Retries: 3}
	r2 := rev("rev2", "img:2", slow)
	changes := replaceOnEachHost(t, w)
	for _, h := range w.hosts {
		h.Healthy = func(providers.TaskSpec) bool { return false }
	}
	w.hosts[0].Exits = func(s providers.TaskSpec) (int, bool) { return 3, s.Labels[providers.LabelRevision] == "rev2" }
	plan := &planner.Plan{App: "app", Env: "test", Revisions: map[string]planner.Revision{"rev2": r2},
		Services: []planner.ServicePlan{{Name: "web", Revision: "rev2", Desired: 3, Waves: 1, BreakerThreshold: 1}},
		Changes:  changes}
	res, err := Apply(context.Background(), plan, w.opts())
	var be *BreakerError
	require.ErrorAs(t, err, &be)
	assert.Len(t, be.Failed, 1, "only the task that failed counts")
	removed := 0
	for _, e := range w.kinds(EventTaskFailed) {
		if strings.Contains(e.Message, "removed before its health check ended: the circuit breaker tripped") {
			removed++
		}
	}
	assert.Equal(t, 2, removed, "the two tasks still waiting are removed, not waited on for an hour")
	assert.Equal(t, 0, res.Stopped())
	for i, h := range w.hosts {
		tasks := h.Tasks()
		require.Len(t, tasks, 1, "host %d: nothing of rev2 is left", i+1)
		assert.Equal(t, "rev1", tasks[0].Revision)
	}
}
