package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/executor/failpoint"
)

// crashManifest is hello with fast health checks: 3 tasks, one wave per task (max 150%)
// so every boundary, between-waves included, is passed; new tasks are watched 1s, not 5s
// (min_healthy_time), as each wave pays it.
const crashManifest = `name: hello
type: Load Balanced Web Service
image:
  build: .
  port: 8080
cpu: 64
memory: 32
count: 3
variables:
  GREETING: %GREETING%
  READY_AFTER: %READY%
healthcheck:
  path: /healthz
  interval: 500ms
  timeout: 1s
  retries: 6
deployment:
  min_healthy_time: 1s
  %DEPLOYMENT%
stop_timeout: 2s
`

func crashHello(greeting, ready, deployment string) string {
	return strings.NewReplacer("%GREETING%", greeting, "%READY%", ready, "%DEPLOYMENT%", deployment).Replace(crashManifest)
}

const rolling = "min_healthy_percent: 100\n  max_percent: 150"

// crashCase is one row of the crash-point table.
type crashCase struct {
	point, app  string
	reached     bool
	minHealthy  int
	converged   bool
	orphans     int
	rerunStatus int
}

// TestCrashAtEveryBoundary kills deck (SIGKILL, through a failpoint) at every named
// boundary of a rolling deploy, for an app that is slow to become ready and for one that
// never does, then runs deck again. From the crash on, the healthy tasks never drop below
// min healthy; the rerun converges (the slow app's new revision serves; the broken one
// fails the rerun and the old revision keeps serving) and leaves no orphaned container.
func TestCrashAtEveryBoundary(t *testing.T) {
	hosts := startHosts(t)
	var table []crashCase
	points := []string{failpoint.AfterLock, failpoint.AfterImage, failpoint.AfterCreate, failpoint.AfterStart,
		failpoint.AfterHealthy, failpoint.AfterRegister, failpoint.AfterStopOld, failpoint.BetweenWaves}
	for _, app := range []string{"slow", "never"} {
		// One app per kind: each case starts from where the last one converged (for the
		// slow app, its new revision; for the broken one, v1 still).
		a := newApp(t, "hello", hosts)
		a.write("deck/hello.yaml", crashHello("v1", "0s", rolling))
		r := a.deck("deploy", "--yes")
		require.Equal(t, 0, r.Code, r.String())
		serving := "v1"
		for i, point := range points {
			t.Run(app+"/"+point, func(t *testing.T) {
				a.t = t
				ready := map[string]string{"slow": "1500ms", "never": "never"}[app]
				next := fmt.Sprintf("v2-%d", i)
				a.write("deck/hello.yaml", crashHello(next, ready, rolling))
				c := crashCase{point: point, app: app}
				mon := startMonitor(t, hosts, "hello", 3)
				crashed := a.deckEnv([]string{"DECK_FAILPOINT=" + point}, "deploy", "--yes", "--lock-ttl", "3s")
				c.reached = strings.Contains(crashed.Stderr, "failpoint "+point)
				if c.reached {
					assert.Equal(t, -1, crashed.Code, "killed by SIGKILL at %s:\n%s", point, crashed)
				} else {
					assert.NotEqual(t, 0, crashed.Code, "the broken revision fails before %s:\n%s", point, crashed)
				}
				rerun := a.deck("deploy", "--yes", "--lock-wait", "30s")
				c.minHealthy, _ = mon.stop()
				c.rerunStatus = rerun.Code
				all := containers(t, hosts, "hello")
				st := a.status()
				require.Len(t, st.Services, 1)
				switch app {
				case "slow":
					assert.Equal(t, 0, rerun.Code, rerun.String())
					assert.Equal(t, 0, a.deck("plan").Code, "converged: nothing left to do")
					serving = next
					if point == failpoint.AfterStart && c.reached {
						// The task the killed run started is waited on in place of an old
						// one, not stopped for a new task started from nothing.
						m := regexp.MustCompile(`task-creating service=hello host=\S+ task=(\S+)`).FindStringSubmatch(crashed.Stderr)
						require.NotNil(t, m, crashed.Stderr)
						assert.Contains(t, rerun.Stdout, "1 to verify", rerun.String())
						assert.Contains(t, rerun.Stdout, "0 to destroy", rerun.String())
						kept := false
						for _, task := range a.status().Services[0].Tasks {
							kept = kept || task.ID == m[1]
						}
						assert.True(t, kept, "task %s, started by the killed run, serves:\n%s", m[1], rerun)
					}
				case "never":
					assert.Equal(t, 1, rerun.Code, "a rerun never reports success for tasks it has not seen healthy:\n%s", rerun)
					assert.Contains(t, rerun.Stderr, "not healthy")
				}
				c.converged = st.Services[0].Healthy == 3 && allGreet(t, st, serving)
				c.orphans = len(all) - 3
				assert.True(t, c.converged, "converged on %s: %+v", serving, st.Services[0])
				assert.Equal(t, 0, c.orphans, "no orphaned container:\n%s", containerIDs(all))
				assert.GreaterOrEqual(t, c.minHealthy, 3, "min healthy 100%% of 3 held from the crash on")
				table = append(table, c)
			})
		}
	}
	t.Log("crash point x app -> min healthy seen, converged, orphans, rerun exit")
	for _, c := range table {
		reached := ""
		if !c.reached {
			reached = " (not reached: the revision failed first)"
		}
		t.Logf("%-16s %-5s min healthy %d, converged %v, orphans %d, rerun exit %d%s",
			c.point, c.app, c.minHealthy, c.converged, c.orphans, c.rerunStatus, reached)
	}
}

// TestCrashDuringRecreate: recreate (0/100) stops the old tasks first, as asked; killed
// once the new tasks run but before deck saw them healthy, the rerun waits for their
// health check (verify) and succeeds only once they pass; for a broken revision it fails
// and rolls back.
func TestCrashDuringRecreate(t *testing.T) {
	hosts := startHosts(t)
	for _, app := range []string{"slow", "never"} {
		t.Run(app, func(t *testing.T) {
			a := newApp(t, "hello", hosts)
			a.write("deck/hello.yaml", crashHello("v1", "0s", "rolling: recreate"))
			r := a.deck("deploy", "--yes")
			require.Equal(t, 0, r.Code, r.String())
			ready := map[string]string{"slow": "2s", "never": "never"}[app]
			a.write("deck/hello.yaml", crashHello("v2", ready, "rolling: recreate"))
			crashed := a.deckEnv([]string{"DECK_FAILPOINT=" + failpoint.AfterStart + ":3"}, "deploy", "--yes", "--lock-ttl", "3s")
			require.Equal(t, -1, crashed.Code, crashed.String())

			plan := a.deck("plan")
			assert.Equal(t, 2, plan.Code, "tasks deck has not seen healthy are never 'No changes':\n%s", plan)
			assert.Contains(t, plan.Stdout, "not seen healthy")
			rerun := a.deck("deploy", "--yes", "--lock-wait", "30s")
			st := a.status()
			if app == "slow" {
				require.Equal(t, 0, rerun.Code, rerun.String())
				assert.Equal(t, 3, st.Services[0].Healthy)
				assert.True(t, allGreet(t, st, "v2"))
			} else {
				// The tasks it left never pass, nor do the replacements the breaker starts:
				// it trips and the service goes back to revision 1.
				assert.Equal(t, 1, rerun.Code, "never success for tasks not seen healthy:\n%s", rerun)
				assert.Contains(t, rerun.Stderr, "rolled back to revision 1")
				assert.Equal(t, 3, st.Services[0].Healthy)
				assert.True(t, allGreet(t, st, "v1"))
			}
			assert.LessOrEqual(t, len(containers(t, hosts, "hello")), 3, "no orphans")
		})
	}
}

func allGreet(t *testing.T, st statusDoc, greeting string) bool {
	t.Helper()
	for _, task := range st.Services[0].Tasks {
		_, body, err := get("http://" + task.Endpoint + "/")
		if err != nil || !strings.HasPrefix(body, greeting+" from task ") {
			t.Logf("task %s answers %q (%v), want %s", task.ID, body, err, greeting)
			return false
		}
	}
	return len(st.Services[0].Tasks) > 0
}

// deckEnv runs deck with extra environment variables.
func (a *app) deckEnv(env []string, args ...string) result {
	a.t.Helper()
	saved := a.env
	a.env = append(append([]string{}, a.env...), env...)
	defer func() { a.env = saved }()
	return a.deck(args...)
}

// TestCrashBetweenServices kills deck after the first of two services is rolled out and
// before the second begins: the rerun rolls out the second, the first is left as it is,
// and neither drops below min healthy.
func TestCrashBetweenServices(t *testing.T) {
	hosts := startHosts(t)
	a := newApp(t, "hello", hosts)
	two := func(greeting string) {
		for _, name := range []string{"beta", "hello"} { // applied in name order: beta first
			m := strings.Replace(crashHello(greeting, "300ms", rolling), "name: hello", "name: "+name, 1)
			if name == "beta" {
				m += "http:\n  path: /beta\n" // two routes on one balancer need different paths
			}
			a.write("deck/"+name+".yaml", m)
		}
	}
	two("v1")
	r := a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())
	two("v2")
	mon := startMonitor(t, hosts, "hello", 6)
	crashed := a.deckEnv([]string{"DECK_FAILPOINT=" + failpoint.BetweenServices}, "deploy", "--yes", "--lock-ttl", "3s")
	require.Equal(t, -1, crashed.Code, crashed.String())
	plan := a.deck("plan")
	assert.Equal(t, 2, plan.Code)
	assert.Contains(t, plan.Stdout, "service hello", "only the second service is left to do:\n%s", plan.Stdout)
	assert.NotContains(t, plan.Stdout, "service beta")
	rerun := a.deck("deploy", "--yes", "--lock-wait", "30s")
	minHealthy, _ := mon.stop()
	require.Equal(t, 0, rerun.Code, rerun.String())
	assert.GreaterOrEqual(t, minHealthy, 6, "both services kept 3 healthy tasks each")
	st := a.status()
	require.Len(t, st.Services, 2)
	for _, s := range st.Services {
		assert.Equal(t, 3, s.Healthy, s.Name)
	}
	assert.Len(t, containers(t, hosts, "hello"), 6, "no orphans")
	assert.Equal(t, 0, a.deck("plan").Code)
}
