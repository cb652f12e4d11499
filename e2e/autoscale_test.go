package e2e

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/controller/autoscale"
	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/providers/lb"
	"github.com/deckhq/deck/providers/lb/caddy"
	"github.com/deckhq/deck/providers/podman"
)

// scaledHello is hello behind Caddy with a count range, a quarter of a vCPU reserved per
// task (so a task burning one core is at 400%) and short cooldowns.
func scaledHello() string {
	return strings.Replace(strings.Replace(lbHello("v1", "0s", ""), "count: 6",
		"count:\n  range: 1-3\n  cpu_percentage: 50\n  requests: 2\n  cooldown: {in: 5s, out: 5s}", 1),
		"cpu: 64", "cpu: 256", 1)
}

// lookup reads a variable as the app's deck commands see it.
func (a *app) lookup(k string) (string, bool) {
	for _, kv := range a.env {
		if name, v, ok := strings.Cut(kv, "="); ok && name == k {
			return v, true
		}
	}
	return os.LookupEnv(k)
}

// readSession opens and reads the app's environment in this process, as the controller
// does, with the app's services and the load balancers.
func (a *app) readSession(t *testing.T) *pipeline.Session {
	t.Helper()
	app, err := manifest.LoadApp(filepath.Join(a.dir, "deck.yaml"), a.lookup)
	require.NoError(t, err)
	services, err := manifest.LoadServices(app, "test", a.lookup)
	require.NoError(t, err)
	open := func(spec manifest.LoadBalancerSpec, dial func(ctx context.Context) (net.Conn, error)) (lb.Balancer, error) {
		return caddy.New(spec, dial), nil
	}
	s, err := pipeline.OpenRead(context.Background(), pipeline.Target{App: app, Env: app.Environments["test"],
		Services: services, Dialer: podman.Dialer{}, OpenBalancer: open})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

// sampled is the tasks a sampler reads, refreshed from the session by the test.
type sampled struct {
	mu    sync.Mutex
	tasks []autoscale.Task
}

func (x *sampled) refresh(t *testing.T, s *pipeline.Session, service string) {
	t.Helper()
	require.NoError(t, s.Read(context.Background()))
	var tasks []autoscale.Task
	for _, h := range s.Obs.Hosts {
		for _, task := range h.Tasks {
			if task.Service == service && task.Running() {
				tasks = append(tasks, autoscale.TaskOf(task, h.Spec.Address))
			}
		}
	}
	x.mu.Lock()
	x.tasks = tasks
	x.mu.Unlock()
}

func (x *sampled) get() []autoscale.Task { x.mu.Lock(); defer x.mu.Unlock(); return x.tasks }

// TestAutoscalingPiecesOnRealHosts measures a real service on real Podman hosts behind the
// real Caddy, as the controller's autoscaler will: idle, it is near 0% CPU; under
// /burn load through the balancer its CPU and requests in flight go above their targets,
// Decide scales it out within its range, SetDesiredCount records it on the hosts, a deploy
// keeps the count, deck status and deck history show the action; once the load stops it
// scales in, one task at a time, after the cooldown.
func TestAutoscalingPiecesOnRealHosts(t *testing.T) {
	hosts := startHosts(t)
	a := newApp(t, "hello", hosts)
	a.write("deck/hello.yaml", scaledHello())
	r := a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())
	s := a.readSession(t)
	var tasks sampled
	tasks.refresh(t, s, "hello")
	require.Len(t, tasks.get(), 1, "the first deploy starts at the range's min")

	sampler := autoscale.NewSampler(autoscale.Source{
		Tasks:     tasks.get,
		Host:      autoscale.HostsOf(s.Fleet.Host),
		Balancers: func() []autoscale.InFlightReader { return autoscale.BalancersOf(s.OpenedBalancers()) },
	}, autoscale.Config{Window: 6 * time.Second, StatsEvery: time.Second, InFlightEvery: 250 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sampler.Run(ctx)

	require.Len(t, s.T.Services, 1)
	p, ok := autoscale.PolicyOf(s.T.Services[0].Count)
	require.True(t, ok)
	p.Service = "hello"
	scaler := &autoscale.Scaler{Policy: p, Sampler: sampler,
		Apply: func(ctx context.Context, n int, why string) error {
			return pipeline.SetDesiredCount(ctx, s, "hello", n, why, nil)
		},
		RecordNoScaleIn: func(ctx context.Context, why string) error {
			return pipeline.RecordNoScaleIn(ctx, s, "hello", why, nil)
		}}

	idle := waitMetrics(t, sampler, 30*time.Second, func(m autoscale.Metrics) bool { return m.CPU.OK && m.Requests.OK })
	t.Logf("idle: cpu %.1f%%, requests in flight %.2f per task", idle.CPU.Value, idle.Requests.Value)
	assert.Less(t, idle.CPU.Value, 20.0)

	// 25 requests a second, each burning 40ms: about one core, 400% of a quarter vCPU.
	run := startLoad(t, hosts, 25, func(int) string { return "/burn?ms=40" })
	hot := waitMetrics(t, sampler, 30*time.Second, func(m autoscale.Metrics) bool { return m.CPU.OK && m.CPU.Value > 100 })
	t.Logf("under load: cpu %.0f%%, requests in flight %.2f per task", hot.CPU.Value, hot.Requests.Value)
	assert.Positive(t, hot.Requests.Value, "Caddy counts the requests in flight")
	d, err := scaler.Step(ctx, 1, false, time.Now())
	require.NoError(t, err)
	require.Equal(t, autoscale.Out, d.Action, d.Reason)
	assert.Equal(t, 3, d.Count, "proportionally, within the range: %s", d.Reason)
	assert.Contains(t, d.Reason, "(service hello) scaled out from 1 to 3 tasks: cpu ")

	// The controller would reconcile now; a deploy does the same and keeps the count.
	r = a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())
	tasks.refresh(t, s, "hello")
	assert.Len(t, tasks.get(), 3)
	r = a.deck("status")
	require.Equal(t, 0, r.Code, r.String())
	assert.Contains(t, r.Stdout, "hello scales within 1-3 on cpu 50%, requests 2 in flight per task; cooldown in 5s, out 5s")
	assert.Contains(t, r.Stdout, d.Reason)
	r = a.deck("history")
	require.Equal(t, 0, r.Code, r.String())
	assert.Contains(t, r.Stdout, "scale out")
	res := run.Stop()
	t.Logf("load: %s", res)

	cool := waitMetrics(t, sampler, 30*time.Second, func(m autoscale.Metrics) bool {
		return m.CPU.OK && m.CPU.Value < 20 && m.Requests.OK && m.Requests.Value < 1
	})
	t.Logf("after the load: cpu %.1f%%, requests in flight %.2f per task", cool.CPU.Value, cool.Requests.Value)
	var in autoscale.Decision
	waitFor(t, 20*time.Second, func() bool {
		in, err = scaler.Step(ctx, 3, false, time.Now())
		require.NoError(t, err)
		return in.Action == autoscale.In
	})
	assert.Equal(t, 2, in.Count, "one task at a time: %s", in.Reason)
	st, err := pipeline.ReadScaleStates(ctx, s)
	require.NoError(t, err)
	require.NotNil(t, st["hello"].Last)
	assert.Equal(t, 2, st["hello"].Last.To)
	assert.True(t, st["hello"].LastIn.After(st["hello"].LastOut.Add(4*time.Second)), "after the in-cooldown")
}

// waitMetrics polls the sampler until cond holds of its metrics.
func waitMetrics(t *testing.T, s *autoscale.Sampler, within time.Duration, cond func(autoscale.Metrics) bool) autoscale.Metrics {
	t.Helper()
	var m autoscale.Metrics
	waitFor(t, within, func() bool { m = s.Metrics(time.Now()); return cond(m) })
	return m
}

// TestControllerScalesOutUnderLoadAndInAfterTheCooldown: deck controller autoscales
// hello (range 1-3, cpu 50%, cooldowns 5s): CPU load through Caddy scales it out to 3
// healthy, routed tasks; when the load stops it scales in, one task at a time, after the
// cooldown; deck status shows the last action and deck history records both.
func TestControllerScalesOutUnderLoadAndInAfterTheCooldown(t *testing.T) {
	hosts := startHosts(t)
	a := newApp(t, "hello", hosts)
	a.write("deck/hello.yaml", scaledHello())
	r := a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())
	stop, logs := a.startController(nil, "--scale-window", "6s")

	run := startLoad(t, hosts, 25, func(int) string { return "/burn?ms=40" })
	waitFor(t, 60*time.Second, func() bool {
		st := a.status()
		return *st.Services[0].Desired == 3 && st.Services[0].Healthy == 3 &&
			len(routeTargets(t, hosts, "hello", "hello")) == 3
	})
	res := run.Stop()
	t.Logf("load: %s", res)
	assert.Contains(t, logs(), "(service hello) scaled out from 1 to ")

	waitFor(t, 60*time.Second, func() bool {
		st := a.status()
		return *st.Services[0].Desired < 3 && st.Services[0].Running == *st.Services[0].Desired
	})
	st := a.status()
	assert.Equal(t, 2, *st.Services[0].Desired, "scale in is gradual: one task at a time")
	r = a.deck("history")
	require.Equal(t, 0, r.Code, r.String())
	assert.Contains(t, r.Stdout, "scale out")
	assert.Contains(t, r.Stdout, "scale in")
	out := stop()
	assert.Contains(t, out.Stderr, "scaled in from 3 to 2", out.Stderr)
}
