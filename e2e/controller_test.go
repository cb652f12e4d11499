package e2e

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/executor/failpoint"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/lb/caddy"
	"github.com/deckhq/deck/testhosts"
)

// podmanKill kills a running task of app on host with `podman kill` (SIGKILL), as an
// operator or the OOM killer would, and returns it.
func podmanKill(t *testing.T, hosts *testhosts.Env, app, host string) providers.Task {
	t.Helper()
	for _, c := range containers(t, hosts, app) {
		if c.Host == host && c.Running() {
			out, err := exec.Command("podman", "--url", hostURL(hosts, host), "kill", c.ContainerID).CombinedOutput()
			require.NoError(t, err, string(out))
			return c
		}
	}
	t.Fatalf("no running task of %s on %s", app, host)
	return providers.Task{}
}

// TestControllerCrashAtEveryBoundaryConverges kills `deck controller --once` (SIGKILL,
// through a failpoint) at every boundary of replacing a killed task, then runs it again:
// the service converges to its count, of its revision, with no orphaned container, and
// the tasks that were healthy never stop serving.
func TestControllerCrashAtEveryBoundaryConverges(t *testing.T) {
	hosts := startHosts(t)
	a := newApp(t, "hello", hosts)
	a.write("deck/hello.yaml", crashHello("v1", "0s", rolling))
	r := a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())
	points := []string{failpoint.AfterLock, failpoint.AfterImage, failpoint.AfterCreate, failpoint.AfterStart,
		failpoint.AfterHealthy, failpoint.AfterStopOld}
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			a.t = t
			killed := podmanKill(t, hosts, "hello", "h1")
			mon := startMonitor(t, hosts, "hello", 2)
			crashed := a.deckEnv([]string{"DECK_FAILPOINT=" + point}, "controller", "--once", "--lock-ttl", "3s")
			reached := strings.Contains(crashed.Stderr, "failpoint "+point)
			if reached {
				assert.Equal(t, -1, crashed.Code, "killed by SIGKILL at %s:\n%s", point, crashed)
			}
			rerun := a.deck("controller", "--once", "--lock-wait", "30s")
			minHealthy, _ := mon.stop()
			assert.Equal(t, 0, rerun.Code, rerun.String())
			st := a.status()
			require.Len(t, st.Services, 1)
			assert.Equal(t, 3, st.Services[0].Healthy, "converged: %+v", st.Services[0])
			assert.True(t, allGreet(t, st, "v1"), "the same revision: healing makes none")
			all := containers(t, hosts, "hello")
			assert.Len(t, all, 3, "no orphaned container, and the killed one is gone:\n%s", containerIDs(all))
			for _, c := range all {
				assert.NotEqual(t, killed.ContainerID, c.ContainerID)
			}
			assert.GreaterOrEqual(t, minHealthy, 2, "the two healthy tasks kept serving")
			assert.Equal(t, 0, a.deck("plan").Code, "nothing left to do")
			t.Logf("%-14s reached %v, min healthy %d", point, reached, minHealthy)
		})
	}
}

// routeTargets are the addresses the test hosts' load balancer routes app's service to.
func routeTargets(t *testing.T, hosts *testhosts.Env, app, service string) []string {
	t.Helper()
	c := caddy.New(hosts.LB.Spec(), caddy.UnixDial(hosts.LB.Admin))
	routes, err := c.Routes(context.Background(), app, "test")
	require.NoError(t, err)
	return routes[service].Targets
}

// startController runs deck controller in the background until the test ends, and waits
// until it has made its first reconcile.
func (a *app) startController(extraEnv []string, args ...string) (stop func() result, logs func() string) {
	a.t.Helper()
	cmd, wait := a.startDeck(extraEnv, append([]string{"controller", "--listen", ""}, args...)...)
	var once sync.Once
	var res result
	stop = func() result {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			res = wait()
		})
		return res
	}
	a.t.Cleanup(func() { stop() })
	logs = func() string { return cmd.Stderr.(*lockedWriter).String() }
	waitFor(a.t, 30*time.Second, func() bool { return strings.Contains(logs(), "first reconcile done") })
	return stop, logs
}

// threeHelloTasks deploys 3 tasks of hello behind the test hosts' Caddy.
func threeHelloTasks(t *testing.T) (*testhosts.Env, *app) {
	t.Helper()
	hosts := startHosts(t)
	a := newApp(t, "hello", hosts)
	a.write("deck/hello.yaml", strings.Replace(lbHello("v1", "0s", ""), "count: 6", "count: 3", 1))
	r := a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())
	return hosts, a
}

// TestControllerReplacesAKilledTaskThroughTheLoadBalancer: podman kill one of 3 tasks
// under load through Caddy: the controller, told by the host's event stream, takes its
// target out of the route within the task's probe interval and starts a healthy
// replacement that the load balancer routes to; no request sent after the target was
// taken out fails.
func TestControllerReplacesAKilledTaskThroughTheLoadBalancer(t *testing.T) {
	hosts, a := threeHelloTasks(t)
	stop, logs := a.startController(nil)
	run := startLoad(t, hosts, 200, nil)

	killed := podmanKill(t, hosts, "hello", "h1")
	start := time.Now()
	dead := killed.Address(hostAddress(hosts, "h1"))
	var out time.Time
	waitFor(t, 10*time.Second, func() bool {
		if !slices.Contains(routeTargets(t, hosts, "hello", "hello"), dead) {
			out = time.Now()
			return true
		}
		return false
	})
	waitFor(t, 20*time.Second, func() bool {
		targets := routeTargets(t, hosts, "hello", "hello")
		st := a.status()
		return len(targets) == 3 && st.Services[0].Healthy == 3
	})
	serving := time.Since(start)
	res := run.Stop()
	t.Logf("kill -> out of the route %s; -> 3 healthy and routed %s; load: %s", out.Sub(start).Round(time.Millisecond),
		serving.Round(time.Millisecond), res)
	// The task's health check interval is 500ms: the balancer must not route to the
	// dead task for longer than that.
	assert.Less(t, out.Sub(start), 500*time.Millisecond, "the dead task left the route within its probe interval")
	for _, f := range failedAfter(t, res.FailedSamples, out) {
		t.Errorf("a request sent after the dead task left the route failed: %s", f)
	}
	assert.NotContains(t, strings.Join(routeTargets(t, hosts, "hello", "hello"), " "), dead)
	log := stop().Stderr
	assert.Contains(t, logs(), "(service hello) has reached a steady state.", log)
}

// failedAfter returns the failure samples (each starting with the time it was sent,
// 15:04:05.000) sent after t.
func failedAfter(t *testing.T, samples []string, after time.Time) []string {
	var out []string
	for _, s := range samples {
		stamp, _, _ := strings.Cut(s, " ")
		at, err := time.ParseInLocation("15:04:05.000", stamp, time.Local)
		require.NoError(t, err, s)
		y, m, d := after.Date()
		at = time.Date(y, m, d, at.Hour(), at.Minute(), at.Second(), at.Nanosecond(), time.Local)
		if at.After(after) {
			out = append(out, s)
		}
	}
	return out
}

// TestControllerRestoresRoutesWhenTheBalancerRestarts: Caddy restarts with an empty
// configuration and sends no event. The controller reads the balancers every second, so
// the route is back within seconds, not at the next resync (30s by default).
func TestControllerRestoresRoutesWhenTheBalancerRestarts(t *testing.T) {
	hosts, a := threeHelloTasks(t)
	stop, logs := a.startController(nil)
	before := routeTargets(t, hosts, "hello", "hello")
	require.Len(t, before, 3)

	require.NoError(t, hosts.RestartLB())
	start := time.Now()
	c := caddy.New(hosts.LB.Spec(), caddy.UnixDial(hosts.LB.Admin))
	waitFor(t, 15*time.Second, func() bool {
		routes, err := c.Routes(context.Background(), "hello", "test") // Caddy may still be starting
		return err == nil && len(routes["hello"].Targets) == 3
	})
	back := time.Since(start)
	t.Logf("balancer restarted -> route restored in %s", back.Round(time.Millisecond))
	assert.Less(t, back, 5*time.Second, "restored by the balancer check, not the 30s resync")
	assert.ElementsMatch(t, before, routeTargets(t, hosts, "hello", "hello"), "the same tasks serve")
	log := stop().Stderr
	assert.Contains(t, logs(), "a load balancer's routes changed", log)
}
