package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/executor/failpoint"
	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/podman"
)

// TestEvents: a deploy, then a task killed under the controller, show up in deck events
// in order, with their sentences: the deployment started, its three tasks started and
// healthy, the steady state and the deployment completed; then the controller's lock, the
// killed container's death, its replacement started and healthy. --since leaves the
// deploy out, --service keeps to one service, and the text output has the sentences.
// It also measures what a deploy's batch costs to write (one record per host).
func TestEvents(t *testing.T) {
	hosts := startHosts(t)
	a := newApp(t, "hello", hosts)
	a.write("deck/hello.yaml", execManifest)
	r := a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())

	type ev = logEvent
	events := func(args ...string) []ev {
		t.Helper()
		return a.events(args...)
	}
	deploy := events()
	require.Len(t, deploy, 10, "%q", kinds(deploy))
	assert.Equal(t, "lock-taken", deploy[0].Kind)
	assert.Regexp(t, `^The deploy lock was taken by a deploy \(epoch \d+\)\.$`, deploy[0].Message)
	assert.Equal(t, "deploy-started", deploy[1].Kind)
	assert.Equal(t, "(service hello) deployment of revision 1 started.", deploy[1].Message)
	started, healthy := 0, 0
	for i, e := range deploy[2:8] {
		switch e.Kind {
		case "task-started":
			started++
			assert.Regexp(t, `^\(service hello\) has started 1 tasks: \(task [0-9a-f]+\) on h\d\.$`, e.Message)
		case "task-healthy":
			healthy++
		default:
			t.Errorf("event %d: %s %q", i+1, e.Kind, e.Message)
		}
	}
	assert.Equal(t, 3, started)
	assert.Equal(t, 3, healthy)
	assert.Equal(t, "(service hello) has reached a steady state.", deploy[8].Message)
	assert.Equal(t, "(service hello) deployment of revision 1 completed.", deploy[9].Message)
	for i := 1; i < len(deploy); i++ {
		assert.False(t, deploy[i].Time.Before(deploy[i-1].Time), "newest last")
	}

	stop, logs := a.startController(nil)
	killed := podmanKill(t, hosts, "hello", "h2")
	var after []ev
	waitFor(t, 60*time.Second, func() bool {
		after = events("--since", deploy[len(deploy)-1].Time.Format(time.RFC3339Nano))
		ks := strings.Join(kinds(after), " ")
		return strings.Contains(ks, "task-died") && strings.Contains(ks, "task-healthy")
	})
	stop()
	ks := kinds(after)
	died := indexOf(ks, "task-died")
	require.GreaterOrEqual(t, died, 0, "%q\n%s", ks, logs())
	assert.Contains(t, after[died].Message, "(service hello) task container "+killed.ContainerID[:12]+" on h2 stopped: exited with code 137.")
	st := indexOf(ks[died:], "task-started")
	require.GreaterOrEqual(t, st, 0, "the replacement starts after the death: %q", ks)
	assert.Greater(t, indexOf(ks[died+st:], "task-healthy"), 0, "and becomes healthy after it started: %q", ks)
	assert.Contains(t, ks, "lock-taken")
	for _, e := range after {
		assert.True(t, e.Time.After(deploy[len(deploy)-1].Time), "--since leaves the deploy out: %+v", e)
	}

	assert.Empty(t, events("--service", "nope"))
	r = a.deck("events", "--service", "hello")
	require.Equal(t, 0, r.Code, r.String())
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	assert.Regexp(t, `^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}  \(service hello\) deployment of revision 1 started\.$`, lines[0],
		"--service keeps the lock's events out")
	assert.Contains(t, r.Stdout, "on h2 stopped: exited with code 137.")

	// What a deploy's flush costs: one batch of a typical deploy's events to the 3 hosts.
	app, err := manifest.LoadApp(a.dir+"/deck.yaml", func(k string) (string, bool) {
		for _, kv := range a.env {
			if strings.HasPrefix(kv, k+"=") {
				return kv[len(k)+1:], true
			}
		}
		return "", false
	})
	require.NoError(t, err)
	env, err := app.Environment("")
	require.NoError(t, err)
	s, err := pipeline.Open(context.Background(), pipeline.Target{App: app, Env: env, Dialer: podman.Dialer{}})
	require.NoError(t, err)
	defer s.Close()
	var batch []pipeline.LogEvent
	for _, e := range deploy {
		batch = append(batch, pipeline.LogEvent{Time: e.Time, Kind: e.Kind, Service: e.Service, Task: e.Task, Host: e.Host, Message: e.Message})
	}
	var took []time.Duration
	for i := 0; i < 5; i++ {
		start := time.Now()
		require.NoError(t, pipeline.AppendEvents(context.Background(), s, batch...))
		took = append(took, time.Since(start))
	}
	t.Logf("writing a deploy's batch of %d events to 3 hosts (with the trim): %v", len(batch), took)
}

// logEvent is one line of deck events -o json.
type logEvent struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	Service string    `json:"service"`
	Task    string    `json:"task"`
	Host    string    `json:"host"`
	Message string    `json:"message"`
}

// events runs deck events -o json with args and returns its events, oldest first.
func (a *app) events(args ...string) []logEvent {
	a.t.Helper()
	r := a.deck(append([]string{"events", "-o", "json"}, args...)...)
	require.Equal(a.t, 0, r.Code, r.String())
	var out []logEvent
	for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		if line == "" {
			continue
		}
		var e logEvent
		require.NoError(a.t, json.Unmarshal([]byte(line), &e), line)
		out = append(out, e)
	}
	return out
}

func kinds(evs []logEvent) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Kind)
	}
	return out
}

// TestEventsSayHealthChangesAndExpiredLocks: a task whose health check starts failing
// under the controller (hello's SIGUSR1) shows a health event naming the task, its host
// and the probe's last answer, once; then a deploy killed (SIGKILL) while it holds the
// lock, and the next deploy that takes the lock once its lease expired, show the expired
// lease in the lock-taken sentence, naming the killed holder.
func TestEventsSayHealthChangesAndExpiredLocks(t *testing.T) {
	hosts := startHosts(t)
	a := newApp(t, "hello", hosts)
	one := strings.Replace(execManifest, "count: 3", "count: 1", 1)
	require.Contains(t, one, "count: 1")
	a.write("deck/hello.yaml", one)
	r := a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())
	deployed := a.events()
	require.NotEmpty(t, deployed)
	since := deployed[len(deployed)-1].Time.Format(time.RFC3339Nano)

	stop, logs := a.startController(nil)
	var sick providers.Task
	for _, c := range containers(t, hosts, "hello") {
		if c.Running() {
			sick = c
		}
	}
	require.NotEmpty(t, sick.ContainerID, "hello's task runs")
	out, err := exec.Command("podman", "--url", hostURL(hosts, sick.Host), "kill", "--signal", "USR1", sick.ContainerID).CombinedOutput()
	require.NoError(t, err, string(out))

	// Wait for the health event and then for the replacement to be healthy: meanwhile the
	// sick task keeps failing its probes, which must not log more events.
	var after []logEvent
	waitFor(t, 90*time.Second, func() bool {
		after = a.events("--since", since)
		ks := kinds(after)
		i := indexOf(ks, "health")
		return i >= 0 && indexOf(ks[i:], "task-healthy") > 0
	})
	stop()
	var health []logEvent
	for _, e := range after {
		if e.Kind == "health" {
			health = append(health, e)
		}
	}
	require.Len(t, health, 1, "one change, one event, however many probes failed: %q\n%s", kinds(after), logs())
	h := health[0]
	assert.Equal(t, "hello", h.Service)
	assert.Equal(t, sick.TaskID, h.Task)
	assert.Equal(t, sick.Host, h.Host)
	assert.Regexp(t, `^\(service hello\) \(task `+sick.TaskID+`\) on `+sick.Host+` is unhealthy: the health check failed 6 times in a row: `+
		`GET http://[0-9.]+:\d+/healthz: 500 Internal Server Error\.$`, h.Message)
	text := a.deck("events", "--since", since)
	require.Equal(t, 0, text.Code, text.String())
	assert.Contains(t, text.Stdout, h.Message, "the text output has the sentence too")

	// A deploy killed while it holds the lock; the next one waits out its lease.
	a.write("deck/hello.yaml", strings.Replace(one, "stop_timeout: 2s", "variables:\n  GREETING: after\nstop_timeout: 2s", 1))
	killed := a.deckEnv([]string{"DECK_FAILPOINT=" + failpoint.AfterLock}, "deploy", "--yes", "--lock-ttl", "6s")
	require.Equal(t, -1, killed.Code, killed.String())
	refused := a.deck("deploy", "--yes")
	require.Equal(t, 1, refused.Code, refused.String())
	holder := regexp.MustCompile(`held by (\S+@\S+) \(pid (\d+)\)`).FindStringSubmatch(refused.Stderr)
	require.NotNil(t, holder, "the refusal names the killed holder: %s", refused.Stderr)
	before := a.events()
	r = a.deck("deploy", "--yes", "--lock-wait", "30s")
	require.Equal(t, 0, r.Code, r.String())
	var taken []logEvent
	for _, e := range a.events("--since", before[len(before)-1].Time.Format(time.RFC3339Nano)) {
		if e.Kind == "lock-taken" {
			taken = append(taken, e)
		}
	}
	require.Len(t, taken, 1, "the deploy took the lock once")
	assert.Regexp(t, `^The deploy lock was taken by a deploy \(epoch \d+\); the previous holder's lease \(`+
		regexp.QuoteMeta(holder[1])+`, pid `+holder[2]+`\) had expired\.$`, taken[0].Message)

	// A deploy after a clean release says nothing of the previous holder.
	a.write("deck/hello.yaml", one)
	before = a.events()
	r = a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())
	taken = taken[:0]
	for _, e := range a.events("--since", before[len(before)-1].Time.Format(time.RFC3339Nano)) {
		if e.Kind == "lock-taken" {
			taken = append(taken, e)
		}
	}
	require.Len(t, taken, 1)
	assert.Regexp(t, `^The deploy lock was taken by a deploy \(epoch \d+\)\.$`, taken[0].Message)
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}
