package e2e

import (
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/testhosts"
)

// withController writes the app file of the test environment with a controller block.
func (a *app) withController(block string) {
	a.t.Helper()
	app := `app: hello
environments:
  test:
    hosts_file: ${DECK_HOSTS_FILE}
    load_balancers:
      - name: edge
        host: h1
        provider: caddy
        listen: ${DECK_LB_LISTEN}
        admin: ${DECK_LB_ADMIN}
    controller:
` + indent(block, "      ")
	a.write("deck.yaml", app)
}

func indent(s, pfx string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString(pfx + l + "\n")
	}
	return b.String()
}

// running are the running tasks of app, by host.
func running(t *testing.T, hosts *testhosts.Env, app string) map[string][]providers.Task {
	out := map[string][]providers.Task{}
	for _, c := range containers(t, hosts, app) {
		if c.Running() {
			out[c.Host] = append(out[c.Host], c)
		}
	}
	return out
}

func total(m map[string][]providers.Task) int {
	n := 0
	for _, ts := range m {
		n += len(ts)
	}
	return n
}

// TestControllerMovesTheTasksOfACutHostAndStopsThemWhenItReturns cuts h3 (reached over
// ssh) off the network: its task keeps its place for the grace period, then is placed on
// another host and serves; when h3 returns, its stale task is stopped, and the count is
// exactly the desired one.
func TestControllerMovesTheTasksOfACutHostAndStopsThemWhenItReturns(t *testing.T) {
	hosts := startHosts(t)
	a := newApp(t, "hello", hosts)
	const grace = 5 * time.Second
	a.withController("host_grace: 5s\nresync: 30s")
	a.write("deck/hello.yaml", crashHello("v1", "0s", rolling))
	r := a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())
	require.Len(t, running(t, hosts, "hello")["h3"], 1, "spread: one task per host")
	_, logs := a.startController(nil)

	require.NoError(t, hosts.Partition(3))
	cut := time.Now()
	t.Cleanup(func() { _ = hosts.Heal(3) })
	defer func() {
		if t.Failed() || testing.Verbose() {
			t.Logf("controller log:\n%s", logs())
		}
	}()
	var moved providers.Task
	waitFor(t, 30*time.Second, func() bool {
		// Only h1 and h2: a read of the cut h3 would wait out its timeout every time.
		for _, c := range containersOn(t, hosts, "hello", "h1", "h2") {
			if c.Running() && c.Meta.Replaces != "" {
				moved = c
				return true
			}
		}
		return false
	})
	h3 := hostAddress(hosts, "h3") + ":"
	waitFor(t, 20*time.Second, func() bool {
		targets := routeTargets(t, hosts, "hello", "hello")
		return len(targets) == 3 && !strings.Contains(strings.Join(targets, " "), h3)
	})
	rescheduled := time.Since(cut)
	// The grace counts from the host's last answer: its watcher pings it every second, so
	// that is at most a second before the cut (or, when the cut came before the watcher
	// reached h3, the read that last saw it). The controller's log says when it planned
	// the move, to the millisecond (Podman lists StartedAt to the second); without the
	// grace it would move the task as soon as it noticed, 2-3s after the cut.
	planned := logTime(t, logs(), `msg=plan .*change="replace task \S+ on h3 -> \S+ on h[12]: host h3 is unreachable"`)
	assert.False(t, planned.Before(cut.Add(grace-time.Second)),
		"the task moved only after the %s grace (planned %s after the cut)", grace, planned.Sub(cut))
	if last := lastAnswerOf(t, logs(), "h3"); !last.IsZero() {
		assert.False(t, planned.Before(last.Add(grace)),
			"the grace counts from h3's last answer (planned %s after it)", planned.Sub(last))
	}
	assert.True(t, moved.StartedAt.After(cut.Add(-time.Second)), "the replacement started after the cut")

	require.NoError(t, hosts.Heal(3))
	healed := time.Now()
	waitFor(t, 60*time.Second, func() bool {
		r := running(t, hosts, "hello")
		return len(r["h3"]) == 0 && total(r) == 3
	})
	stale := time.Since(healed)
	final := running(t, hosts, "hello")
	assert.Equal(t, 3, total(final), "exactly the desired count")
	assert.Empty(t, final["h3"], "the stale task on the returning host was stopped")
	// The stale task is stopped before it is removed: the controller converges once it
	// is gone too, and then a plan has nothing left to do.
	plan := a.deck("plan")
	for deadline := time.Now().Add(30 * time.Second); plan.Code != 0 && time.Now().Before(deadline); plan = a.deck("plan") {
		time.Sleep(200 * time.Millisecond)
	}
	assert.Equal(t, 0, plan.Code, "nothing left to do once the controller converged; the last plan:\n%s", plan.String())
	t.Logf("cut -> replacement healthy %s (grace 5s); back -> stale task stopped %s",
		rescheduled.Round(time.Millisecond), stale.Round(time.Millisecond))
}

// lastAnswerOf reads, from the controller's "host unreachable" line for host, when the
// host last answered.
func lastAnswerOf(t *testing.T, log, host string) time.Time {
	t.Helper()
	return timeIn(t, log, `msg="host unreachable".* host=`+host+` .*last_answer=(\S+)`)
}

// logTime returns the time of the first line of the controller's log that matches re.
func logTime(t *testing.T, log, re string) time.Time {
	t.Helper()
	return timeIn(t, log, `(?m)^time=(\S+) .*`+re)
}

// timeIn parses the time that re's group captures in the first match in log.
func timeIn(t *testing.T, log, re string) time.Time {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(log)
	require.NotNil(t, m, "a controller log line matching %s", re)
	at, err := time.Parse(time.RFC3339Nano, m[1])
	require.NoError(t, err)
	return at
}

// leaderOf waits until one of the controllers' logs says it leads and returns its index.
func leaderOf(t *testing.T, logs []func() string, skip int) int {
	t.Helper()
	leader := -1
	waitFor(t, 30*time.Second, func() bool {
		for i, l := range logs {
			if i != skip && strings.Contains(l(), "msg=leading") {
				leader = i
				return true
			}
		}
		return false
	})
	return leader
}

// startStandby starts a controller without waiting for it to lead.
func (a *app) startStandby() (*controllerProc, func() string) {
	a.t.Helper()
	cmd, wait := a.startDeck(nil, "controller", "--listen", "")
	p := &controllerProc{pid: cmd.Process.Pid, signal: func(s syscall.Signal) { _ = cmd.Process.Signal(s) }}
	a.t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Kill()
		wait()
	})
	return p, func() string { return cmd.Stderr.(*lockedWriter).String() }
}

type controllerProc struct {
	pid    int
	signal func(syscall.Signal)
}

// testLeadership: two controllers, one leads; SIGKILL it and the other takes over within
// two lease periods and replaces a killed task exactly once; then a third standby, and
// the leader paused (SIGSTOP) past its lease: the standby takes over, and the paused one,
// resumed, makes no write.
func testLeadership(t *testing.T, hosts *testhosts.Env, a *app, lease time.Duration) {
	r := a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())
	procs := make([]*controllerProc, 3)
	logs := make([]func() string, 3)
	defer func() {
		if t.Failed() || testing.Verbose() {
			for i, l := range logs {
				if l != nil {
					t.Logf("controller %d log:\n%s", i, l())
				}
			}
		}
	}()
	procs[0], logs[0] = a.startStandby()
	procs[1], logs[1] = a.startStandby()
	first := leaderOf(t, logs[:2], -1)
	standby := 1 - first

	procs[first].signal(syscall.SIGKILL)
	killed := time.Now()
	second := leaderOf(t, logs[:2], first)
	require.Equal(t, standby, second)
	takeover := time.Since(killed)
	assert.Less(t, takeover, 2*lease+time.Second, "the standby takes over within two lease periods")

	victim := podmanKill(t, hosts, "hello", "h1")
	waitFor(t, 30*time.Second, func() bool { return a.status().Services[0].Healthy == 3 })
	all := containers(t, hosts, "hello")
	assert.Len(t, all, 3, "one replacement, not two:\n%s", containerIDs(all))
	for _, c := range all {
		assert.NotEqual(t, victim.ContainerID, c.ContainerID)
	}

	procs[2], logs[2] = a.startStandby()
	waitFor(t, 10*time.Second, func() bool { return strings.Contains(logs[2](), "campaigning") })
	procs[second].signal(syscall.SIGSTOP)
	paused := time.Now()
	leaderOf(t, logs[2:], -1)
	pausedTakeover := time.Since(paused)
	podmanKill(t, hosts, "hello", "h2")
	// The paused leader may hold the deploy lock (it was still registering the first
	// replacement): the controller's lock lives as long as its lease, so the new leader
	// acts within a few leases, far sooner than the 30s of a deploy's lock.
	waitFor(t, 20*time.Second, func() bool { return a.status().Services[0].Healthy == 3 })
	replaced := time.Since(paused)
	before := containerIDs(containers(t, hosts, "hello"))
	procs[second].signal(syscall.SIGCONT)
	waitFor(t, 3*lease, func() bool { return strings.Contains(logs[second](), "leadership lost") })
	// The resumed controller stands by: it writes nothing, so the tasks are the same.
	assert.Equal(t, before, containerIDs(containers(t, hosts, "hello")), "the paused leader, resumed, changed nothing")
	// The leader converges (it may still be finishing a replacement it began meanwhile).
	waitFor(t, 30*time.Second, func() bool { return a.deck("plan").Code == 0 })
	t.Logf("lease %s: SIGKILL -> standby leads %s; SIGSTOP -> standby leads %s, a task killed then is replaced %s after the SIGSTOP", lease,
		takeover.Round(time.Millisecond), pausedTakeover.Round(time.Millisecond), replaced.Round(time.Millisecond))
}

func TestTwoControllersWithAHostsLease(t *testing.T) {
	hosts := startHosts(t)
	a := newApp(t, "hello", hosts)
	a.withController("leader: hosts\nlease: 3s\nhost_grace: 15s")
	a.write("deck/hello.yaml", crashHello("v1", "0s", rolling))
	testLeadership(t, hosts, a, 3*time.Second)
}

func TestTwoControllersWithEtcd(t *testing.T) {
	hosts := startHosts(t)
	endpoint := testhosts.StartEtcd(t)
	a := newApp(t, "hello", hosts)
	a.withController("leader: etcd\netcd:\n  endpoints: [" + endpoint + "]\nlease: 3s\nhost_grace: 15s")
	a.write("deck/hello.yaml", crashHello("v1", "0s", rolling))
	testLeadership(t, hosts, a, 3*time.Second)
}
