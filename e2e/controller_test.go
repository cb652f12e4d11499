package e2e

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/executor/failpoint"
	"github.com/deckhq/deck/providers"
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
