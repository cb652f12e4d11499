package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/bench/load"
	"github.com/deckhq/deck/providers/lb/caddy"
	"github.com/deckhq/deck/testhosts"
)

// lbManifest is hello behind the test hosts' Caddy: 6 tasks over 3 hosts, fast health
// checks, a short deregistration delay and a long stop timeout, so a slow request that is
// in flight when its task is replaced finishes; new tasks are watched 1s, not 5s
// (min_healthy_time), to keep the suite short.
const lbManifest = `name: hello
type: Load Balanced Web Service
image:
  build: .
  port: 8080
cpu: 64
memory: 32
count: 6
variables:
  GREETING: %GREETING%
  READY_AFTER: %READY%
  SHUTDOWN_TIMEOUT: 30s
%EXTRA%
healthcheck:
  path: /healthz
  interval: 500ms
  timeout: 1s
  retries: 6
http:
  path: /
  deregistration_delay: 10s
  healthcheck:
    path: /healthz
    healthy_threshold: 2
    interval: 2s
    timeout: 1s
    grace_period: 10s
deployment:
  min_healthy_time: 1s
stop_timeout: 20s
`

func lbHello(greeting, ready, extra string) string {
	return strings.NewReplacer("%GREETING%", greeting, "%READY%", ready, "%EXTRA%", extra).Replace(lbManifest)
}

// latencyBound is what a request through the load balancer may take beyond the app's own
// latency during a rollout: a reload closes idle keep-alive connections (the client
// reconnects) and Caddy retries a dial to a target that just went away.
const latencyBound = time.Second

// startLoad sends rate requests/s through the load balancer over keep-alive connections.
func startLoad(t *testing.T, hosts *testhosts.Env, rate int, path func(int) string) *load.Run {
	t.Helper()
	return load.Start(context.Background(), load.Options{URL: "http://" + hosts.LB.Listen + "/", Rate: rate, Conns: 32,
		Timeout: 30 * time.Second, Path: path})
}

func requireNoFailures(t *testing.T, r load.Result, what string) {
	t.Helper()
	t.Logf("%s: %s", what, r)
	assert.Zero(t, r.Failed, "%s: failed requests: %v %v", what, r.Errors, r.FailedSamples)
	assert.Positive(t, r.OK, what)
}

// TestRolloutsUnderLoadDropNothing: two rolling deploys of 6 tasks on 3 hosts under
// 1,000 requests/s through Caddy over keep-alive connections and 200/s on a new connection
// each: not one request fails, none is slower than the app plus latencyBound, and the
// traffic moves to the new revision.
func TestRolloutsUnderLoadDropNothing(t *testing.T) {
	hosts := startHosts(t)
	a := newApp(t, "hello", hosts)
	a.write("deck/hello.yaml", lbHello("v1", "0s", ""))
	r := a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())
	require.Contains(t, r.Stdout, "through the load balancer: http://"+hosts.LB.Listen+"/")
	code, body, err := get("http://" + hosts.LB.Listen + "/")
	require.NoError(t, err)
	require.Equal(t, 200, code, body)
	require.Contains(t, body, "v1 from task")

	run := startLoad(t, hosts, 1000, nil)
	// And clients that open a connection for every request (curl in a loop): each rollout
	// step reloads Caddy, which must not reset one of them.
	fresh := load.Start(context.Background(), load.Options{URL: "http://" + hosts.LB.Listen + "/", Rate: 200, Conns: 16,
		NewConnections: true, Timeout: 30 * time.Second})
	for _, g := range []string{"v2", "v3"} {
		a.write("deck/hello.yaml", lbHello(g, "0s", ""))
		r := a.deck("deploy", "--yes")
		require.Equal(t, 0, r.Code, r.String())
	}
	waitFor(t, 10*time.Second, func() bool {
		_, body, err := get("http://" + hosts.LB.Listen + "/")
		return err == nil && strings.HasPrefix(body, "v3 ")
	})
	res := run.Stop()
	requireNoFailures(t, res, "two rollouts at 1000 req/s")
	requireNoFailures(t, fresh.Stop(), "two rollouts at 200 req/s, a new connection each")
	assert.GreaterOrEqual(t, res.Rate, 900.0, "the load held ~1000 req/s")
	assert.Less(t, res.Max, latencyBound, "slowest request: %v", res.Slowest)
	byGreeting := map[string]int{}
	for k, n := range res.ByBody {
		byGreeting[strings.Fields(k)[0]] += n
	}
	assert.Positive(t, byGreeting["v1"], "v1 served before the first rollout: %v", byGreeting)
	assert.Positive(t, byGreeting["v3"], "v3 serves at the end: %v", byGreeting)
	assert.Equal(t, 0, a.deck("plan").Code, "the route matches the tasks: nothing to do")
}

// slowFifth makes every fifth request take 1.5s in the app.
func slowFifth(i int) string {
	if i%5 == 0 {
		return "/slow?d=1500ms"
	}
	return "/"
}

// TestSlowRequestsAreNeverCut: an app that takes seconds to become ready, serving
// requests that take 1.5 s while its tasks are replaced: deck registers new tasks only once
// ready and stops old ones only after their requests drained, so none is cut.
func TestSlowRequestsAreNeverCut(t *testing.T) {
	hosts := startHosts(t)
	a := newApp(t, "hello", hosts)
	a.write("deck/hello.yaml", lbHello("v1", "2s", ""))
	r := a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())

	run := startLoad(t, hosts, 100, slowFifth)
	a.write("deck/hello.yaml", lbHello("v2", "2s", ""))
	r = a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())
	res := run.Stop()
	requireNoFailures(t, res, "a rollout of a slow app under slow requests")
	assert.Less(t, res.Max, 1500*time.Millisecond+latencyBound, "slowest request: %v", res.Slowest)
}

// TestScaleInDrainsFirst: 6 tasks scaled in to 3 under slow requests, by an app that
// cuts what it has in hand 100ms after SIGTERM: each task that goes is deregistered and
// drained before it gets SIGTERM, so no request is cut.
func TestScaleInDrainsFirst(t *testing.T) {
	hosts := startHosts(t)
	a := newApp(t, "hello", hosts)
	impatient := func(count string) string {
		return strings.NewReplacer("SHUTDOWN_TIMEOUT: 30s", "SHUTDOWN_TIMEOUT: 100ms", "count: 6", "count: "+count).
			Replace(lbHello("v1", "0s", ""))
	}
	a.write("deck/hello.yaml", impatient("6"))
	r := a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())

	run := startLoad(t, hosts, 100, slowFifth)
	a.write("deck/hello.yaml", impatient("3"))
	r = a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())
	assert.Contains(t, r.Stdout, "3 stopped", r.Stdout)
	res := run.Stop()
	requireNoFailures(t, res, "a scale-in from 6 to 3 under slow requests")
	assert.Len(t, routeTargets(t, hosts, "hello", "hello"), 3)
}

// TestBreakerRollsBack: a revision whose process exits at start, and one whose health
// check answers 500, trip the circuit breaker; deck rolls back to the last completed
// revision, the old tasks serve throughout (zero failed requests), deck deploy exits
// non-zero and shows each failed task's stop reason and log lines, and history says so.
func TestBreakerRollsBack(t *testing.T) {
	hosts := startHosts(t)
	a := newApp(t, "hello", hosts)
	a.write("deck/hello.yaml", lbHello("v1", "0s", ""))
	r := a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())

	for _, bad := range []struct{ name, extra, reason string }{
		{"exits at start", "  CRASH: \"3\"", "exited with code 3"},
		{"health check 500", "  HEALTH_STATUS: \"500\"", "500"},
	} {
		t.Run(bad.name, func(t *testing.T) {
			a.t = t
			run := startLoad(t, hosts, 200, nil)
			a.write("deck/hello.yaml", lbHello("v2", "0s", bad.extra))
			r := a.deck("deploy", "--yes")
			res := run.Stop()
			assert.Equal(t, 1, r.Code, r.String())
			assert.Contains(t, r.Stderr, "circuit breaker tripped", r.String())
			assert.Contains(t, r.Stderr, "rolled back to revision 1", r.String())
			assert.Contains(t, r.Stdout, "↩ hello rolled back", "the summary says so too:\n%s", r)
			assert.Contains(t, r.Stderr, bad.reason, "the stop reason is shown")
			assert.Contains(t, r.Stderr, "last ", "the failed tasks' log lines are shown")
			requireNoFailures(t, res, "a failing revision under load")
			for k := range res.ByBody {
				assert.True(t, strings.HasPrefix(k, "v1 "), "only v1 answered: %q", k)
			}
			st := a.status()
			require.Len(t, st.Services, 1)
			assert.Equal(t, 6, st.Services[0].Healthy)
			assert.True(t, allGreet(t, st, "v1"), "v1 serves at the end")
			assert.Len(t, containers(t, hosts, "hello"), 6, "nothing of the failed revision is left")
		})
	}
	a.t = t
	h := a.deck("history", "hello")
	require.Equal(t, 0, h.Code, h.String())
	assert.Regexp(t, `(?m)^\s*3\s+rolled back`, h.Stdout)
	assert.Regexp(t, `(?m)^\s*2\s+rolled back`, h.Stdout)
	assert.Regexp(t, `(?m)^\s*1\s+completed`, h.Stdout)
	ev := a.deck("events", "--service", "hello")
	require.Equal(t, 0, ev.Code, ev.String())
	assert.Equal(t, 2, strings.Count(ev.Stdout, "was rolled back"), "the event log says rolled back, as history does:\n%s", ev.Stdout)
}

// TestRollbackUnderLoad: after revisions 1, 2 and 3, deck rollback --to 1 returns to
// revision 1 without building, under load, with zero failed requests.
func TestRollbackUnderLoad(t *testing.T) {
	hosts := startHosts(t)
	a := newApp(t, "hello", hosts)
	for _, g := range []string{"v1", "v2", "v3"} {
		a.write("deck/hello.yaml", lbHello(g, "0s", ""))
		r := a.deck("deploy", "--yes")
		require.Equal(t, 0, r.Code, r.String())
	}
	run := startLoad(t, hosts, 500, nil)
	r := a.deck("rollback", "hello", "--to", "1", "--yes")
	res := run.Stop()
	require.Equal(t, 0, r.Code, r.String())
	assert.NotContains(t, r.Stderr, "STEP", "nothing is built")
	requireNoFailures(t, res, "rollback to revision 1")
	assert.True(t, allGreet(t, a.status(), "v1"), "revision 1 serves")
	h := a.deck("history", "hello")
	require.Equal(t, 0, h.Code, h.String())
	assert.Regexp(t, `(?m)^\s*4\s+completed.*rollback`, h.Stdout)
}

// TestLoadBalancerRestartedEmpty: Caddy restarted with no config: deck plan shows the
// route to restore, deck deploy restores it, and the service answers through it again.
func TestLoadBalancerRestartedEmpty(t *testing.T) {
	hosts := startHosts(t)
	a := newApp(t, "hello", hosts)
	a.write("deck/hello.yaml", lbHello("v1", "0s", ""))
	r := a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())
	require.NoError(t, hosts.RestartLB())
	if code, _, err := get("http://" + hosts.LB.Listen + "/"); err == nil {
		require.NotEqual(t, 200, code, "an empty Caddy does not route")
	}
	p := a.deck("plan")
	assert.Equal(t, 2, p.Code, p.String())
	assert.Contains(t, p.Stdout, "+ route on edge: / -> 6 targets")
	assert.Contains(t, p.Stdout, "no route for the service")
	assert.Contains(t, p.Stdout, "0 to create, 0 to replace, 0 to destroy; 1 load balancer change")
	before := containerIDs(containers(t, hosts, "hello"))
	r = a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())
	assert.Equal(t, before, containerIDs(containers(t, hosts, "hello")), "no task was touched")
	code, body, err := get("http://" + hosts.LB.Listen + "/")
	require.NoError(t, err)
	assert.Equal(t, 200, code, body)
	assert.Equal(t, 0, a.deck("plan").Code)
	st := a.status()
	require.Len(t, st.LoadBalancers, 1)
	require.Len(t, st.LoadBalancers[0].Routes, 1)
	assert.Len(t, st.LoadBalancers[0].Routes[0].Targets, 6)
	for _, task := range st.Services[0].Tasks {
		assert.Equal(t, []string{"edge"}, task.Registered, "deck status shows task %s registered", task.ID)
	}
}

// TestLoadBalancerUnreachable: with Caddy's admin API down, deck deploy fails before it
// touches a task, and says which balancer and how it tried to reach it.
func TestLoadBalancerUnreachable(t *testing.T) {
	hosts := startHosts(t)
	a := newApp(t, "hello", hosts)
	a.write("deck/hello.yaml", lbHello("v1", "0s", ""))
	r := a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())
	before := containerIDs(containers(t, hosts, "hello"))
	require.NoError(t, hosts.StopLB())
	t.Cleanup(func() { require.NoError(t, hosts.StartLB()) })
	a.write("deck/hello.yaml", lbHello("v2", "0s", ""))
	r = a.deck("deploy", "--yes")
	assert.Equal(t, 1, r.Code, r.String())
	assert.Contains(t, r.Stderr, "load balancer unreachable: ", r.String())
	assert.Contains(t, r.Stderr, "edge on host h1", r.String())
	assert.Contains(t, r.Stderr, hosts.LB.Admin)
	assert.Equal(t, before, containerIDs(containers(t, hosts, "hello")), "no task was touched")
}

// waitFor polls cond until it holds or the time is up.
func waitFor(t *testing.T, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTwoLoadBalancersGetTheSameRoutes: an environment that names two balancers (Caddy on
// h1 and on h2) gets the route on both; a rollout under load through both drops nothing;
// when one restarts empty, only its route is restored.
func TestTwoLoadBalancersGetTheSameRoutes(t *testing.T) {
	hosts := startHosts(t)
	require.Len(t, hosts.LBs, 2)
	a := newApp(t, "hello", hosts)
	two := "    load_balancers:\n"
	for _, b := range hosts.LBs {
		two += fmt.Sprintf("      - {name: %s, host: %s, provider: caddy, listen: %q, admin: %q}\n", b.Name, b.Host, b.Listen, b.Admin)
	}
	deckYAML := "app: hello\nenvironments:\n  test:\n    hosts_file: " + hosts.HostsFile + "\n" + two
	a.write("deck.yaml", deckYAML)
	a.write("deck/hello.yaml", lbHello("v1", "0s", ""))
	r := a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())
	for _, b := range hosts.LBs {
		assert.Contains(t, r.Stdout, "http://"+b.Listen+"/")
		code, body, err := get("http://" + b.Listen + "/")
		require.NoError(t, err, b.Name)
		assert.Equal(t, 200, code, "%s: %s", b.Name, body)
	}

	var runs []*load.Run
	for _, b := range hosts.LBs {
		runs = append(runs, load.Start(context.Background(), load.Options{URL: "http://" + b.Listen + "/", Rate: 250, Conns: 16, Timeout: 30 * time.Second}))
	}
	a.write("deck/hello.yaml", lbHello("v2", "0s", ""))
	r = a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())
	for i, run := range runs {
		res := run.Stop()
		requireNoFailures(t, res, "a rollout through "+hosts.LBs[i].Name)
	}

	require.NoError(t, hosts.RestartLBOn(2))
	p := a.deck("plan")
	assert.Equal(t, 2, p.Code, p.String())
	assert.Contains(t, p.Stdout, "+ route on edge2: / -> 6 targets")
	assert.NotContains(t, p.Stdout, "route on edge:")
	r = a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())
	code, body, err := get("http://" + hosts.LBs[1].Listen + "/")
	require.NoError(t, err)
	assert.Equal(t, 200, code, body)
	assert.True(t, strings.HasPrefix(body, "v2 "), body)
}

// removeRoutes deletes app's routes from balancer b.
func removeRoutes(t *testing.T, b testhosts.LB, app string) {
	c := caddy.New(b.Spec(), caddy.UnixDial(b.Admin))
	routes, err := c.Routes(context.Background(), app, "test")
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	for svc := range routes {
		if err := c.Delete(context.Background(), app, "test", svc); err != nil {
			t.Logf("cleanup: %v", err)
		}
	}
}
