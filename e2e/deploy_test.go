package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/podman"
	"github.com/deckhq/deck/testhosts"
)

const helloManifest = `name: hello
type: Load Balanced Web Service
image:
  build: .
  port: 8080
cpu: 64
memory: 32
count: %COUNT%
variables:
  GREETING: %GREETING%
secrets:
  API_TOKEN: {from_env: HELLO_API_TOKEN}
healthcheck:
  path: /healthz
  interval: 2s
  timeout: 2s
  retries: 3
stop_timeout: 5s
`

const secretValue = "tok-e2e-5f1c9a77-never-shown"

func hello(count, greeting string) string {
	return strings.NewReplacer("%COUNT%", count, "%GREETING%", greeting).Replace(helloManifest)
}

// TestDeployLifecycle walks a service through the life the issue describes, on three real
// hosts: deploy 6, no-op, rolling change, saved plans, scale down, a lost host, bad input.
func TestDeployLifecycle(t *testing.T) {
	hosts := startHosts(t)
	a := newApp(t, "hello", hosts, "HELLO_API_TOKEN="+secretValue)

	t.Run("deploy 6 replicas, all answer", func(t *testing.T) {
		a.write("deck/hello.yaml", hello("6", "hello"))
		r := a.deck("deploy", "--yes")
		require.Equal(t, 0, r.Code, r.String())
		assert.Contains(t, r.Stdout, "+ route on edge: / -> 0 targets")
		assert.Contains(t, r.Stdout, "Plan: 6 to create, 0 to replace, 0 to destroy; 1 load balancer change.")
		assert.Contains(t, r.Stdout, "endpoints:")
		st := a.status()
		require.Len(t, st.Services, 1)
		s := st.Services[0]
		assert.Equal(t, 6, s.Running)
		assert.Equal(t, 6, s.Healthy)
		perHost := map[string]int{}
		seen := map[string]bool{}
		for _, task := range s.Tasks {
			perHost[task.Host]++
			code, body, err := get("http://" + task.Endpoint + "/")
			require.NoError(t, err)
			assert.Equal(t, 200, code)
			assert.Contains(t, body, "hello from task "+task.ID+" on host "+task.Host)
			seen[task.ID] = true
		}
		assert.Len(t, seen, 6, "six distinct tasks answered")
		assert.Equal(t, map[string]int{"h1": 2, "h2": 2, "h3": 2}, perHost, "spread evenly, h3 reached over ssh")
	})

	t.Run("deploy again: no changes", func(t *testing.T) {
		r := a.deck("plan")
		assert.Equal(t, 0, r.Code, r.String())
		assert.Contains(t, r.Stdout, "No changes")
		r = a.deck("deploy", "--yes")
		assert.Equal(t, 0, r.Code, r.String())
		assert.Contains(t, r.Stdout, "No changes")
	})

	t.Run("secret never shown", func(t *testing.T) {
		r := a.deck("plan", "--output", "json")
		assert.NotContains(t, r.Stdout+r.Stderr, secretValue)
		for _, c := range containers(t, hosts, "hello") {
			for k, v := range c.Labels {
				assert.NotContains(t, v, secretValue, "label %s", k)
			}
		}
	})

	t.Run("change a variable: rolling replace keeps min healthy", func(t *testing.T) {
		a.write("deck/hello.yaml", hello("6", "bonjour"))
		r := a.deck("plan")
		require.Equal(t, 2, r.Code, r.String())
		assert.Contains(t, r.Stdout, "Plan: 0 to create, 6 to replace, 0 to destroy.")
		assert.Contains(t, r.Stdout, "variables")

		mon := startMonitor(t, hosts, "hello", 6)
		r = a.deck("deploy", "--yes")
		minHealthy, samples := mon.stop()
		require.Equal(t, 0, r.Code, r.String())
		t.Logf("healthy old+new tasks during the rollout: min %d over %d samples", minHealthy, samples)
		assert.Greater(t, samples, 10, "the monitor sampled while the deploy ran")
		assert.GreaterOrEqual(t, minHealthy, 6, "min healthy 100%: never fewer than 6 tasks answering")

		st := a.status()
		s := st.Services[0]
		require.Equal(t, 6, s.Healthy)
		for _, task := range s.Tasks {
			_, body, err := get("http://" + task.Endpoint + "/")
			require.NoError(t, err)
			assert.True(t, strings.HasPrefix(body, "bonjour from task "), body)
		}
		assert.Len(t, containers(t, hosts, "hello"), 6, "old tasks are gone, no orphans")
	})

	t.Run("saved plan is refused when the hosts changed", func(t *testing.T) {
		a.write("deck/hello.yaml", hello("4", "bonjour"))
		planFile := filepath.Join(t.TempDir(), "scale.plan.json")
		r := a.deck("plan", "--out", planFile)
		require.Equal(t, 2, r.Code, r.String())
		// Someone removes a task by hand after the plan was made.
		victim := containers(t, hosts, "hello")[0]
		rm := exec.Command("podman", "--url", hostURL(hosts, victim.Host), "rm", "-f", victim.ContainerID)
		if id := hostIdentity(hosts, victim.Host); id != "" {
			rm.Args = append(rm.Args[:1], append([]string{"--identity", id}, rm.Args[1:]...)...)
		}
		out, err := rm.CombinedOutput()
		require.NoError(t, err, string(out))
		r = a.deck("deploy", "--yes", "--plan", planFile)
		require.Equal(t, 1, r.Code, r.String())
		assert.Contains(t, r.Stderr, "the hosts changed since the plan was made")
		assert.Len(t, containers(t, hosts, "hello"), 5, "a refused plan changes nothing")

		r = a.deck("plan", "--out", planFile)
		require.Equal(t, 2, r.Code, r.String())
		r = a.deck("deploy", "--yes", "--plan", planFile)
		require.Equal(t, 0, r.Code, r.String())
		assert.Equal(t, 4, a.status().Services[0].Healthy)
	})

	t.Run("scale 6 -> 2", func(t *testing.T) {
		a.write("deck/hello.yaml", hello("6", "bonjour"))
		r := a.deck("deploy", "--yes")
		require.Equal(t, 0, r.Code, r.String())
		require.Equal(t, 6, a.status().Services[0].Healthy)
		a.write("deck/hello.yaml", hello("2", "bonjour"))
		r = a.deck("deploy", "--yes")
		require.Equal(t, 0, r.Code, r.String())
		assert.Contains(t, r.Stdout, "4 to destroy")
		st := a.status()
		assert.Equal(t, 2, st.Services[0].Running)
		assert.Equal(t, 2, st.Services[0].Healthy)
		assert.Len(t, containers(t, hosts, "hello"), 2)
	})

	t.Run("a revision that never gets healthy: deploy fails, the service keeps serving", func(t *testing.T) {
		before := containers(t, hosts, "hello")
		require.Len(t, before, 2)
		bad := strings.Replace(hello("2", "broken"), "path: /healthz", "path: /missing", 1)
		a.write("deck/hello.yaml", strings.Replace(bad, "interval: 2s", "interval: 1s", 1))
		r := a.deck("deploy", "--yes")
		require.Equal(t, 1, r.Code, r.String())
		assert.Contains(t, r.Stderr, "not healthy")
		assert.Contains(t, r.Stderr, "404 Not Found")
		assert.Contains(t, r.Stderr, "circuit breaker tripped")
		assert.Contains(t, r.Stderr, "rolled back to revision")
		assert.Contains(t, r.Stderr, "The old revision served throughout")
		after := containers(t, hosts, "hello")
		assert.Equal(t, containerIDs(before), containerIDs(after), "the failed tasks are removed, the old ones untouched")
		for _, task := range a.status().Services[0].Tasks {
			_, body, err := get("http://" + task.Endpoint + "/")
			require.NoError(t, err)
			assert.True(t, strings.HasPrefix(body, "bonjour from task"), body)
		}
		a.write("deck/hello.yaml", hello("2", "bonjour"))
		r = a.deck("plan")
		assert.Equal(t, 0, r.Code, "back to the manifest that runs: no changes\n%s", r.String())
	})

	t.Run("a revision that exits at start: its exit code and last log lines are shown", func(t *testing.T) {
		before := containers(t, hosts, "hello")
		// The app prints its secret as it dies: deck shows the line with the value hidden.
		a.write("deck/hello.yaml", strings.Replace(hello("2", "bonjour"), "GREETING: bonjour", "GREETING: bonjour\n  CRASH: \"3\"\n  CRASH_LOG_ENV: API_TOKEN", 1))
		r := a.deck("deploy", "--yes")
		require.Equal(t, 1, r.Code, r.String())
		assert.Contains(t, r.Stderr, "the container exited with code 3")
		assert.Contains(t, r.Stderr, "last 3 log lines:")
		assert.Contains(t, r.Stderr, "fatal: cannot start: CRASH=3 asked to exit")
		assert.Contains(t, r.Stderr, "config: API_TOKEN=***")
		assert.NotContains(t, r.Stdout+r.Stderr, secretValue)
		assert.Equal(t, containerIDs(before), containerIDs(containers(t, hosts, "hello")), "nothing left behind")
		a.write("deck/hello.yaml", hello("2", "bonjour"))
	})

	t.Run("a revision that crashes seconds after it passes: caught while the old tasks serve, rolled back", func(t *testing.T) {
		before := containers(t, hosts, "hello")
		require.Len(t, before, 2)
		a.write("deck/hello.yaml", strings.Replace(hello("2", "crashy"), "GREETING: crashy", "GREETING: crashy\n  CRASH_AFTER: 3s", 1))
		mon := startMonitor(t, hosts, "hello", 2)
		r := a.deck("deploy", "--yes")
		minHealthy, samples := mon.stop()
		require.Equal(t, 1, r.Code, r.String())
		assert.Contains(t, r.Stderr, "after it passed its health check, within deployment.min_healthy_time (5s)")
		assert.Contains(t, r.Stderr, "fatal: CRASH_AFTER=3s asked to exit")
		assert.Contains(t, r.Stderr, "circuit breaker tripped")
		assert.Contains(t, r.Stderr, "rolled back to revision")
		assert.Greater(t, samples, 10, "the monitor sampled while the deploy ran")
		assert.GreaterOrEqual(t, minHealthy, 2, "the old tasks served throughout")
		assert.Equal(t, containerIDs(before), containerIDs(containers(t, hosts, "hello")), "the crashed tasks are removed, the old ones untouched")
		a.write("deck/hello.yaml", hello("2", "bonjour"))
		r = a.deck("plan")
		assert.Equal(t, 0, r.Code, "back to the manifest that runs: no changes\n%s", r.String())
	})

	t.Run("a bad manifest: exit 1, the error, nothing changed", func(t *testing.T) {
		before := containerIDs(containers(t, hosts, "hello"))
		a.write("deck/hello.yaml", strings.Replace(hello("3", "bonjour"), "memory: 32", "memroy: 32", 1))
		r := a.deck("deploy", "--yes")
		require.Equal(t, 1, r.Code, r.String())
		assert.Contains(t, r.Stderr, "deck/hello.yaml:7:1: memroy: unknown key")
		assert.Contains(t, r.Stderr, `did you mean "memory"`)
		assert.Equal(t, before, containerIDs(containers(t, hosts, "hello")))
		r = a.deck("validate")
		assert.Equal(t, 1, r.Code, r.String())
		a.write("deck/hello.yaml", hello("2", "bonjour"))
	})

	t.Run("a host goes down: status marks it, plan replaces its tasks", func(t *testing.T) {
		st := a.status()
		// A host with a task, not the load balancer's: with its balancer cut off, deck
		// rightly changes nothing (TestLoadBalancerUnreachable covers that).
		down := ""
		for _, task := range st.Services[0].Tasks {
			if task.Host != hosts.LB.Host {
				down = task.Host
				break
			}
		}
		require.NotEmpty(t, down, "a task on a host other than %s", hosts.LB.Host)
		idx := int(down[1] - '0')
		// Down for real: its Podman API stops answering and its network is cut, while its
		// containers keep running (as on a machine that lost its link).
		require.NoError(t, hosts.Partition(idx))
		require.NoError(t, hosts.Stop(idx))
		healed := false
		defer func() {
			if !healed {
				_ = hosts.Heal(idx)
				_ = hosts.Start(idx)
			}
		}()

		r := a.deck("status")
		require.Equal(t, 0, r.Code, r.String())
		assert.Regexp(t, down+`\s+no\s`, r.Stdout, "the host is marked unreachable")
		st = a.status()
		for _, h := range st.Hosts {
			assert.Equal(t, h.Name != down, h.Reachable, h.Name)
		}

		r = a.deck("plan")
		require.Equal(t, 2, r.Code, r.String())
		assert.Contains(t, r.Stdout, "host "+down+" is unreachable, its tasks are replaced")
		assert.Contains(t, r.Stdout, "registered, but its host "+down+" is unreachable: deregister it")
		assert.Contains(t, r.Stdout, "Plan: 1 to create, 0 to replace, 0 to destroy; 1 load balancer change.")
		r = a.deck("deploy", "--yes")
		require.Equal(t, 0, r.Code, r.String())
		st = a.status()
		assert.Equal(t, 2, st.Services[0].Healthy, "two tasks answer on the hosts that are left")
		for _, task := range st.Services[0].Tasks {
			assert.NotEqual(t, down, task.Host)
		}

		// The host comes back with its old task: the next deploy removes the extra one.
		require.NoError(t, hosts.Heal(idx))
		require.NoError(t, hosts.Start(idx))
		healed = true
		r = a.deck("deploy", "--yes")
		require.Equal(t, 0, r.Code, r.String())
		assert.Contains(t, r.Stdout, "1 to destroy")
		assert.Len(t, containers(t, hosts, "hello"), 2)
	})

	for i, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGKILL} {
		t.Run("interrupted mid-deploy by "+sig.String()+", run again: converges with no orphans", func(t *testing.T) {
			a.write("deck/hello.yaml", hello("6", []string{"hallo", "hej"}[i]))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cmd := exec.CommandContext(ctx, deckBin, "deploy", "--yes", "--lock-ttl", "4s")
			cmd.Dir, cmd.Env = a.dir, a.env
			stderr := &lockedBuffer{}
			cmd.Stderr = stderr
			require.NoError(t, cmd.Start())
			// Interrupt it once it has started creating tasks.
			require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "task-started") }, 60*time.Second, 20*time.Millisecond)
			require.NoError(t, cmd.Process.Signal(sig))
			err := cmd.Wait()
			require.Error(t, err, "an interrupted deploy does not report success")

			// A killed deploy leaves its lock until it expires: wait for it.
			r := a.deck("deploy", "--yes", "--lock-wait", "30s")
			require.Equal(t, 0, r.Code, r.String())
			r = a.deck("plan")
			assert.Equal(t, 0, r.Code, r.String())
			st := a.status()
			assert.Equal(t, 6, st.Services[0].Healthy)
			all := containers(t, hosts, "hello")
			assert.Len(t, all, 6, "no orphaned containers:\n%s", containerIDs(all))
			for _, c := range all {
				assert.Equal(t, "running", c.State)
			}
		})
	}

	t.Run("delete the service", func(t *testing.T) {
		r := a.deck("delete", "hello", "--yes")
		require.Equal(t, 0, r.Code, r.String())
		assert.Empty(t, containers(t, hosts, "hello"))
	})
}

// TestWorkerService deploys the worker example: no port, healthy by staying up.
func TestWorkerService(t *testing.T) {
	hosts := startHosts(t)
	a := newApp(t, "worker", hosts)
	r := a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())
	st := a.status()
	require.Len(t, st.Services, 1)
	assert.Equal(t, 2, st.Services[0].Running)
	assert.Equal(t, 2, st.Services[0].Healthy)
	for _, task := range st.Services[0].Tasks {
		assert.Empty(t, task.Endpoint)
	}
	r = a.deck("delete", "worker", "--yes")
	require.Equal(t, 0, r.Code, r.String())
	assert.Empty(t, containers(t, hosts, "worker"))
}

// monitor samples, while a deploy runs, how many tasks of the app answer /healthz: it lists
// the running tasks straight from Podman and probes each. A task list is a moment old by
// the time its probes finish, so a dip is confirmed by an immediate second sample: a real
// drop (an old task stopped before its replacement was healthy) lasts far longer than that.
type monitor struct {
	done    chan struct{}
	wg      sync.WaitGroup
	min     int
	samples int
}

func startMonitor(t *testing.T, hosts *testhosts.Env, app string, want int) *monitor {
	m := &monitor{done: make(chan struct{}), min: 1 << 30}
	// One connection per host for the whole rollout; each sample lists and probes in parallel.
	fleet, _ := providers.Observe(context.Background(), podman.Dialer{}, hosts.Specs(), app, "")
	sample := func() int {
		var n atomic.Int32
		var wg sync.WaitGroup
		for _, name := range fleet.Names() {
			h := fleet.Host(name)
			tasks, err := h.List(context.Background(), app, "")
			if err != nil {
				continue
			}
			for _, c := range tasks {
				if !c.Running() {
					continue
				}
				wg.Add(1)
				go func(addr string) {
					defer wg.Done()
					if code, _, err := get("http://" + addr + "/healthz"); err == nil && code == 200 {
						n.Add(1)
					}
				}(h.Spec().Address + ":" + strconv.Itoa(c.HostPort(8080)))
			}
		}
		wg.Wait()
		return int(n.Load())
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer fleet.Close()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-m.done:
				return
			case <-tick.C:
			}
			n := sample()
			if n < want {
				n = max(n, sample())
			}
			m.min = min(m.min, n)
			m.samples++
		}
	}()
	return m
}

func (m *monitor) stop() (int, int) {
	close(m.done)
	m.wg.Wait()
	return m.min, m.samples
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func hostURL(h *testhosts.Env, name string) string {
	for _, x := range h.Hosts {
		if x.Name == name {
			return x.URL
		}
	}
	return ""
}

func hostAddress(h *testhosts.Env, name string) string {
	for _, x := range h.Hosts {
		if x.Name == name {
			return x.Address
		}
	}
	return ""
}

func hostIdentity(h *testhosts.Env, name string) string {
	for _, x := range h.Hosts {
		if x.Name == name {
			return x.Identity
		}
	}
	return ""
}

// TestNoEnvironmentUsesTheLocalSocket deploys with a deck.yaml that names no environment:
// deck uses the local Podman socket (CONTAINER_HOST here, as on a laptop).
func TestNoEnvironmentUsesTheLocalSocket(t *testing.T) {
	hosts := startHosts(t)
	a := newApp(t, "worker", hosts, "CONTAINER_HOST="+hosts.Hosts[0].URL)
	a.write("deck.yaml", "app: solo\n")
	r := a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())
	assert.Contains(t, r.Stdout, "environment local")
	st := a.status()
	require.Len(t, st.Hosts, 1)
	assert.Equal(t, "local", st.Hosts[0].Name)
	assert.Equal(t, 2, st.Services[0].Healthy)
	onH1 := 0
	for _, c := range containers(t, hosts, "solo") {
		assert.Equal(t, "h1", c.Host, "the tasks run on the host CONTAINER_HOST points at")
		onH1++
	}
	assert.Equal(t, 2, onH1)
	r = a.deck("delete", "worker", "--yes")
	require.Equal(t, 0, r.Code, r.String())
}
