package controller

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/fake"
	"github.com/deckhq/deck/providers/history"
	"github.com/deckhq/deck/providers/lock"
)

type rig struct {
	t     *testing.T
	cloud *fake.Cloud
	app   *manifest.App
	env   *manifest.Environment
	clock *fake.Clock
	locks atomic.Int32
	log   bytes.Buffer
}

func newRig(t *testing.T, hosts int) *rig {
	r := &rig{t: t, cloud: fake.NewCloud(), app: &manifest.App{Name: "shop"}, env: &manifest.Environment{Name: "prod"},
		clock: fake.NewClock(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))}
	for i := 1; i <= hosts; i++ {
		spec := manifest.HostSpec{Name: "h" + string(rune('0'+i)), URL: "fake://h", Address: "10.0.0." + string(rune('0'+i))}
		r.cloud.AddHost(spec, manifest.Resources{CPU: 4096, Memory: 8192}).AddImage("web:1")
		r.env.Hosts = append(r.env.Hosts, spec)
	}
	return r
}

func web(count int) manifest.ServiceSpec {
	return manifest.ServiceSpec{App: "shop", Env: "prod", Name: "web", Type: manifest.BackendService,
		Image: manifest.ImageSpec{Location: "web:1"},
		Task:  manifest.TaskDef{Image: "web:1", CPU: 256, Memory: 256, StopTimeout: time.Second},
		Count: manifest.Count{Value: count},
		Deployment: manifest.Deployment{Strategy: "default", MinHealthyPercent: 100, MaxPercent: 200,
			CircuitBreaker: manifest.CircuitBreaker{Rollback: true}},
		Placement: manifest.Placement{Strategy: "spread"}}
}

func (r *rig) target() pipeline.Target {
	return pipeline.Target{App: r.app, Env: r.env, Dialer: r.cloud}
}

// deploy is deck deploy: it records the desired state and a revision on the hosts.
func (r *rig) deploy(svcs ...manifest.ServiceSpec) {
	r.t.Helper()
	t := r.target()
	t.Services = svcs
	out, err := pipeline.Deploy{Target: t, Lock: r.lock}.Run(context.Background())
	if out != nil && out.Session != nil {
		out.Session.Close()
	}
	require.NoError(r.t, err)
}

type testLease struct{ epoch uint64 }

func (l testLease) Epoch() uint64               { return l.epoch }
func (testLease) Check() error                  { return nil }
func (testLease) Release(context.Context) error { return nil }

func (r *rig) lock(context.Context, *pipeline.Session) (pipeline.Lease, error) {
	r.locks.Add(1)
	return testLease{epoch: uint64(r.locks.Load())}, nil
}

func (r *rig) controller() *Controller {
	return New(Config{Target: r.target(), Lock: r.lock, HostGrace: 15 * time.Second, Now: r.clock.Now,
		Log: slog.New(slog.NewTextHandler(&r.log, nil))})
}

func (r *rig) running(service string) map[string][]providers.Task {
	out := map[string][]providers.Task{}
	for _, spec := range r.env.Hosts {
		for _, tk := range r.cloud.Host(spec.Name).Tasks() {
			if tk.Service == service && tk.Running() {
				out[spec.Name] = append(out[spec.Name], tk)
			}
		}
	}
	return out
}

func count(m map[string][]providers.Task) int {
	n := 0
	for _, ts := range m {
		n += len(ts)
	}
	return n
}

func TestOnceReplacesATaskWhoseContainerExitedWithoutANewRevision(t *testing.T) {
	r := newRig(t, 3)
	r.deploy(web(3))
	before := r.history()
	victim := r.running("web")["h2"][0]
	r.cloud.Host("h2").SetState(victim.ContainerID, "exited")

	require.NoError(t, r.controller().Once(context.Background()))
	got := r.running("web")
	assert.Equal(t, 3, count(got))
	for _, ts := range got {
		for _, tk := range ts {
			assert.NotEqual(t, victim.TaskID, tk.TaskID)
		}
	}
	assert.Equal(t, before, r.history(), "healing records no revision")
	assert.Contains(t, r.log.String(), "(service web) has reached a steady state.")
}

func TestOnceChangesNothingAndTakesNoLockWhenAllRuns(t *testing.T) {
	r := newRig(t, 2)
	r.deploy(web(2))
	locks := r.locks.Load()
	require.NoError(t, r.controller().Once(context.Background()))
	assert.Equal(t, locks, r.locks.Load(), "a reconcile with nothing to do takes no lock")
	assert.Equal(t, 2, count(r.running("web")))
}

func TestOnceKeepsTheCountADeployRecorded(t *testing.T) {
	r := newRig(t, 2)
	r.deploy(web(2))
	r.deploy(web(4))
	require.NoError(t, r.controller().Once(context.Background()))
	assert.Equal(t, 4, count(r.running("web")))
}

func TestAHostIsGivenItsGraceThenItsTasksMoveAndAreStoppedWhenItReturns(t *testing.T) {
	r := newRig(t, 3)
	r.deploy(web(3))
	c := r.controller()
	require.NoError(t, c.Once(context.Background())) // the controller sees h2's task
	lost := r.running("web")["h2"][0]

	r.cloud.Host("h2").SetDown(true)
	require.NoError(t, c.Once(context.Background()))
	assert.Len(t, r.running("web")["h1"], 1, "within the grace nothing moves: h2's task still counts")
	assert.Len(t, r.running("web")["h3"], 1)

	r.clock.Advance(16 * time.Second)
	require.NoError(t, c.Once(context.Background()))
	moved := r.running("web")
	assert.Equal(t, 3, len(moved["h1"])+len(moved["h3"]), "after the grace, h2's task is placed elsewhere")
	var replacement providers.Task
	for _, h := range []string{"h1", "h3"} {
		for _, tk := range moved[h] {
			if tk.Meta.Replaces != "" {
				replacement = tk
			}
		}
	}
	require.Equal(t, lost.TaskID, replacement.Meta.Replaces, "the new task names the one it replaces")

	r.cloud.Host("h2").SetDown(false)
	require.NoError(t, c.Once(context.Background()))
	final := r.running("web")
	assert.Equal(t, 3, count(final), "the count is exactly the desired one")
	assert.Empty(t, final["h2"], "the stale task on the returning host is stopped, not its replacement")
}

// failingStarts deploys one task of web on h1, then makes it exit and every start on h1
// fail, and returns h1.
func (r *rig) failingStarts() *fake.Host {
	r.t.Helper()
	r.deploy(web(1))
	h := r.cloud.Host("h1")
	h.FailStart = func(providers.TaskSpec) error { return errors.New("oci runtime error: exec format error") }
	h.SetState(r.running("web")["h1"][0].ContainerID, "exited")
	return h
}

func TestAServiceWhoseTasksKeepFailingBacksOff(t *testing.T) {
	r := newRig(t, 1)
	h := r.failingStarts()
	c := r.controller()

	require.ErrorContains(t, c.Once(context.Background()), "circuit breaker tripped")
	assert.Equal(t, 1, c.retry.failures("web"))
	assert.Equal(t, 5*time.Second, c.retry.waiting("web"))
	locks := r.locks.Load()
	require.NoError(t, c.Once(context.Background()))
	assert.Equal(t, locks, r.locks.Load(), "while it waits, the service is not tried")

	r.clock.Advance(6 * time.Second)
	require.Error(t, c.Once(context.Background()))
	assert.Equal(t, 2, c.retry.failures("web"))
	assert.Equal(t, 10*time.Second, c.retry.waiting("web"), "the delay doubles")
	assert.Contains(t, r.log.String(), "(service web) is unable to consistently start tasks successfully.")
	ev := r.events()["web"]
	assert.Equal(t, "(service web) is unable to consistently start tasks successfully.", ev.Message, "deck status shows it")
	assert.Contains(t, ev.Reason, "exec format error", "with the stop reason")
	assert.Equal(t, 2, ev.Failures)

	h.FailStart = nil
	r.clock.Advance(11 * time.Second)
	require.NoError(t, c.Once(context.Background()))
	assert.Equal(t, 0, c.retry.failures("web"))
	assert.Equal(t, 1, count(r.running("web")))
	assert.Equal(t, "(service web) has reached a steady state.", r.events()["web"].Message)
}

func (r *rig) events() map[string]pipeline.ServiceEvent {
	s, err := pipeline.Open(context.Background(), r.target())
	require.NoError(r.t, err)
	defer s.Close()
	return pipeline.ReadServiceEvents(context.Background(), s)
}

func (r *rig) history() []history.Entry {
	r.t.Helper()
	s, err := pipeline.Open(context.Background(), r.target())
	require.NoError(r.t, err)
	defer s.Close()
	var hosts []providers.Host
	for _, n := range s.Fleet.Names() {
		hosts = append(hosts, s.Fleet.Host(n))
	}
	entries, err := history.New(hosts, "shop", "prod").List(context.Background(), "web")
	require.NoError(r.t, err)
	return entries
}

func TestMetricsShowDesiredRunningAndHealthyPerService(t *testing.T) {
	r := newRig(t, 2)
	r.deploy(web(2))
	m := NewMetrics()
	c := New(Config{Target: r.target(), Lock: r.lock, Now: r.clock.Now, Metrics: m,
		Log: slog.New(slog.NewTextHandler(&r.log, nil))})
	require.NoError(t, c.Once(context.Background()))
	rec := httptest.NewRecorder()
	m.Handler([]*Controller{c}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	assert.Contains(t, body, `deck_service_desired_tasks{app="shop",env="prod",service="web"} 2`)
	assert.Contains(t, body, `deck_service_running_tasks{app="shop",env="prod",service="web"} 2`)
	assert.Contains(t, body, `deck_service_healthy_tasks{app="shop",env="prod",service="web"} 2`)
	assert.Contains(t, body, `deck_reconciles_total{app="shop",env="prod",result="ok"} 1`)
	rec = httptest.NewRecorder()
	m.Handler([]*Controller{c}).ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	assert.Equal(t, 200, rec.Code)
	assert.Contains(t, rec.Body.String(), `"App":"shop"`)

	// deck delete web: its gauges go, rather than keeping its last values.
	out, err := pipeline.Deploy{Target: r.target(), Delete: []string{"web"}, Partial: true, Lock: r.lock}.Run(context.Background())
	out.Session.Close()
	require.NoError(t, err)
	require.NoError(t, c.Once(context.Background()))
	rec = httptest.NewRecorder()
	m.Handler([]*Controller{c}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	assert.NotContains(t, rec.Body.String(), `service="web"`)
}

// expiredLease is a deploy lock taken over from a holder whose lease had expired.
type expiredLease struct{ testLease }

func (expiredLease) Previous() *lock.Previous {
	return &lock.Previous{Holder: lock.Holder{User: "alice", Machine: "laptop", PID: 4242}, Expired: true}
}

// The controller's lock-taken event says when it took the deploy lock over from a holder
// whose lease had expired (a deploy killed while it held it): the leader fence around the
// lease passes that on.
func TestControllerLockTakenSaysThePreviousLeaseExpired(t *testing.T) {
	r := newRig(t, 1)
	r.deploy(web(1))
	r.cloud.Host("h1").SetState(r.running("web")["h1"][0].ContainerID, "exited")
	c := New(Config{Target: r.target(), HostGrace: 15 * time.Second, Now: r.clock.Now, Log: slog.New(slog.NewTextHandler(&r.log, nil)),
		Lock: func(context.Context, *pipeline.Session) (pipeline.Lease, error) {
			return expiredLease{testLease{epoch: 7}}, nil
		}})
	require.NoError(t, c.Once(context.Background()))
	s, err := pipeline.Open(context.Background(), r.target())
	require.NoError(t, err)
	defer s.Close()
	evs, err := pipeline.ReadEventLog(context.Background(), s, time.Time{})
	require.NoError(t, err)
	var taken []string
	for _, e := range evs {
		if e.Kind == pipeline.KindLockTaken {
			taken = append(taken, e.Message)
		}
	}
	assert.Equal(t, []string{"The deploy lock was taken by the controller (epoch 7); the previous holder's lease (alice@laptop, pid 4242) had expired."}, taken)
}
