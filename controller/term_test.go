package controller

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/executor"
	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/providers"
)

// testTerm is a leadership term that ends when the test closes lost.
type testTerm struct {
	epoch uint64
	lost  chan struct{}
}

func (t *testTerm) Epoch() uint64 { return t.epoch }
func (t *testTerm) Check() error {
	select {
	case <-t.lost:
		return errLost
	default:
		return nil
	}
}
func (t *testTerm) Lost() <-chan struct{}        { return t.lost }
func (t *testTerm) Resign(context.Context) error { return nil }

// leadUntil leads for one term until cond holds, then ends the term and waits for lead to
// return.
func leadUntil(t *testing.T, c *Controller, epoch uint64, cond func() bool) {
	t.Helper()
	term := &testTerm{epoch: epoch, lost: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- c.lead(context.Background(), term) }()
	require.Eventually(t, cond, 10*time.Second, 5*time.Millisecond)
	close(term.lost)
	<-done
}

// downSince is when the controller saw host go down; call it only while it does not lead.
func (c *Controller) downSince(host string) time.Time {
	c.hosts.mu.Lock()
	defer c.hosts.mu.Unlock()
	return c.hosts.get(host).downSince
}

// A controller that leads again starts from the hosts, not from its earlier term: a host
// that was down then and is unreachable again as the new term starts gets its whole grace
// (README: "keeps its tasks' places for controller.host_grace").
func TestANewTermGivesADownHostItsGrace(t *testing.T) {
	r := newRig(t, 3)
	r.deploy(web(3))
	c := New(Config{Target: r.target(), Lock: r.lock, HostGrace: 15 * time.Second, Now: r.clock.Now,
		Resync: 20 * time.Millisecond, Log: slog.New(slog.NewTextHandler(&r.log, nil))})

	r.cloud.Host("h2").SetDown(true)
	leadUntil(t, c, 1, func() bool { return !c.Status().LastReconcile.IsZero() })
	require.False(t, c.downSince("h2").IsZero(), "term 1 saw h2 down") // lead has returned: no race

	// An hour of standby; h2 came back long ago, and restarts just as this controller leads.
	r.clock.Advance(time.Hour)
	r.cloud.Host("h2").SetDown(false)
	r.cloud.Host("h2").SetDown(true)
	term2 := r.clock.Now()
	leadUntil(t, c, 2, func() bool { return !c.Status().LastReconcile.Before(term2) })

	got := r.running("web")
	assert.Len(t, got["h2"], 1, "h2's task keeps its place")
	assert.Equal(t, 2, len(got["h1"])+len(got["h3"]), "nothing placed elsewhere within h2's grace")
}

// A host's grace that runs out while the loop handles another tick (select takes one
// ready case at random) still moves its tasks, not only at the next resync. Here the
// clock jumps past the grace: only the job ticks go on, and the loop must notice.
func TestAGraceThatRanOutDuringAnotherTickStillMovesTheTasks(t *testing.T) {
	r := newRig(t, 3)
	r.deploy(web(3))
	c := New(Config{Target: r.target(), Lock: r.lock, HostGrace: 15 * time.Second, Now: r.clock.Now,
		Resync: time.Hour, Log: slog.New(slog.NewTextHandler(&r.log, nil))})
	r.cloud.Host("h2").SetDown(true)
	term := &testTerm{epoch: 1, lost: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- c.lead(context.Background(), term) }()
	defer func() { close(term.lost); <-done }()
	require.Eventually(t, func() bool { return !c.Status().LastReconcile.IsZero() }, 10*time.Second, 5*time.Millisecond)
	got := r.running("web")
	require.Equal(t, 2, len(got["h1"])+len(got["h3"]), "within its grace, h2's task keeps its place")

	r.clock.Advance(16 * time.Second)
	assert.Eventually(t, func() bool {
		got := r.running("web")
		return len(got["h1"])+len(got["h3"]) == 3
	}, 5*time.Second, 10*time.Millisecond, "h2's task is placed elsewhere once its grace has run out")
}

// A task that passes and then exits a few seconds after starting is replaced at once the
// first time; when it keeps doing so, each next replacement waits the back-off's delay,
// and the exited container stays meanwhile.
func TestACrashLoopIsBackedOff(t *testing.T) {
	r := newRig(t, 1)
	r.cloud.Host("h1").SetClock(r.clock.Now)
	r.deploy(web(1))
	c := r.controller()
	ctx := context.Background()
	crash := func() string {
		t.Helper()
		tasks := r.running("web")["h1"]
		require.Len(t, tasks, 1)
		r.clock.Advance(4 * time.Second)
		r.cloud.Host("h1").Finish(tasks[0].ContainerID, 3)
		return tasks[0].ContainerID
	}
	crash()
	require.NoError(t, c.Once(ctx))
	require.Len(t, r.running("web")["h1"], 1, "the first early exit is replaced at once")

	second := crash()
	require.NoError(t, c.Once(ctx))
	assert.Empty(t, r.running("web")["h1"], "the second waits")
	_, err := r.cloud.Host("h1").Inspect(ctx, second)
	assert.NoError(t, err, "the exited container stays, with its logs")
	assert.Contains(t, r.log.String(), "(service web) is in a crash loop: its tasks exited within 1m0s of starting 2 times in a row")
	assert.Contains(t, r.log.String(), "exited with code 3 after 4s); the next replacement starts in 5s.")
	s, err := pipeline.Open(ctx, r.target())
	require.NoError(t, err)
	ev := pipeline.ReadServiceEvents(ctx, s)["web"]
	s.Close()
	assert.Equal(t, "(service web) is in a crash loop: its tasks exited within 1m0s of starting 2 times in a row.", ev.Message,
		"deck status shows the loop")
	assert.Contains(t, ev.Reason, "exited with code 3 after 4s")

	r.clock.Advance(6 * time.Second)
	require.NoError(t, c.Once(ctx))
	assert.Len(t, r.running("web")["h1"], 1, "replaced once the delay has passed")
}

// A deploy's rollout stops a task and removes it a moment later; a controller read in
// between sees an early exit. Such an exit is no crash: only one this controller replaces
// itself, under the deploy lock, counts. Otherwise a few deploys in a row put the service
// in a crash loop, and a real death then waits out a back-off with its target registered.
func TestTasksAnotherActorStopsAreNoCrashes(t *testing.T) {
	r := newRig(t, 1)
	r.cloud.Host("h1").SetClock(r.clock.Now)
	r.deploy(web(1))
	ctx := context.Background()
	var removed string // the container "the deploy" removes while holding the lock
	c := New(Config{Target: r.target(), HostGrace: 15 * time.Second, Now: r.clock.Now,
		Log: slog.New(slog.NewTextHandler(&r.log, nil)),
		Lock: func(ctx context.Context, s *pipeline.Session) (pipeline.Lease, error) {
			if removed != "" {
				require.NoError(t, r.cloud.Host("h1").Remove(ctx, removed))
				removed = ""
			}
			return r.lock(ctx, s)
		}})
	for range 3 {
		tasks := r.running("web")["h1"]
		require.Len(t, tasks, 1)
		r.clock.Advance(4 * time.Second)
		r.cloud.Host("h1").Finish(tasks[0].ContainerID, 0) // an app that exits 0 on SIGTERM
		removed = tasks[0].ContainerID
		require.NoError(t, c.Once(ctx))
		require.Len(t, r.running("web")["h1"], 1, "the count is made up at once")
	}
	assert.Zero(t, c.crash.streak["web"])
	assert.NotContains(t, r.log.String(), "crash loop")

	// A crash after all that is the first: replaced at once, and counted.
	tasks := r.running("web")["h1"]
	r.clock.Advance(4 * time.Second)
	r.cloud.Host("h1").Finish(tasks[0].ContainerID, 3)
	require.NoError(t, c.Once(ctx))
	assert.Len(t, r.running("web")["h1"], 1)
	assert.Equal(t, 1, c.crash.streak["web"])
}

// The died and remove events of containers the controller stopped itself are not news: no
// reconcile, no task-died event. Others are; those of a job's runs (deck job history tells
// them) trigger a reconcile but are not written to the event log.
func TestOwnStopsAreNotNews(t *testing.T) {
	r := newRig(t, 1)
	c := r.controller()
	c.ownDoing("h1/c1")
	assert.Empty(t, c.onEvent(Event{Host: "h1", Action: "died", Service: "web", ContainerID: "c1", ExitCode: 143}))
	assert.Empty(t, c.onEvent(Event{Host: "h1", Action: "remove", Service: "web", ContainerID: "c1"}))
	assert.Equal(t, 0, c.evlog.Pending())
	assert.Equal(t, "task remove on h1", c.onEvent(Event{Host: "h1", Action: "remove", Service: "web", ContainerID: "c2"}))
	assert.Equal(t, "task died on h2", c.onEvent(Event{Host: "h2", Action: "died", Service: "web", ContainerID: "c1"}), "another host's c1")
	assert.Equal(t, 2, c.evlog.Pending())
	assert.Equal(t, "task died on h1", c.onEvent(Event{Host: "h1", Action: "died", Service: "nightly", ContainerID: "c3", Kind: providers.KindJobRun}))
	assert.Equal(t, 2, c.evlog.Pending(), "a job run's end is not news")
	assert.Equal(t, "(service web) task container c2 on h1 was removed.", diedSentence(Event{Host: "h1", Action: "remove", Service: "web", ContainerID: "c2"}))

	r.clock.Advance(2 * time.Minute)
	c.ownDoing()
	assert.NotEmpty(t, c.onEvent(Event{Host: "h1", Action: "died", Service: "web", ContainerID: "c1"}), "forgotten after a minute")
}

// deck_task_failures_total counts the failed tasks, not the reconciles that had some.
func TestTaskFailuresCountTasks(t *testing.T) {
	r := newRig(t, 1)
	r.failingStarts()
	m := NewMetrics()
	c := New(Config{Target: r.target(), Lock: r.lock, Now: r.clock.Now, Metrics: m,
		Log: slog.New(slog.NewTextHandler(&r.log, nil))})
	err := c.Once(context.Background())
	require.ErrorContains(t, err, "circuit breaker tripped")
	failed := len(executor.Failures(err))
	require.GreaterOrEqual(t, failed, 3, "the breaker's threshold")
	rec := httptest.NewRecorder()
	m.Handler([]*Controller{c}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	assert.Contains(t, rec.Body.String(), fmt.Sprintf(`deck_task_failures_total{app="shop",env="prod",service="web"} %d`, failed))
}

// A watcher's first connection is no host coming back: no host-back event, no reconcile.
func TestAWatchersFirstConnectionIsNoReturn(t *testing.T) {
	r := newRig(t, 1)
	c := r.controller()
	assert.Empty(t, c.onEvent(Event{Host: "h1", Action: HostUp}))
	assert.Equal(t, 0, c.evlog.Pending())
	c.onEvent(Event{Host: "h1", Action: HostDown, LastAnswer: r.clock.Now()})
	assert.Equal(t, "host h1 is back", c.onEvent(Event{Host: "h1", Action: HostUp}))
	assert.Equal(t, 2, c.evlog.Pending(), "host-lost, then host-back")
}

// A revision whose tasks pass their checks and crash seconds after its deploy completed
// escaped the circuit breaker, which watches the rollout only. When they keep crashing,
// the controller rolls the service back to the revision before; a rollback is never
// rolled back in turn.
func TestARevisionThatCrashesAfterItsDeployIsRolledBack(t *testing.T) {
	r := newRig(t, 1)
	r.cloud.Host("h1").SetClock(r.clock.Now)
	r.cloud.Host("h1").AddImage("web:2")
	r.deploy(web(1))
	v2 := web(1)
	v2.Image.Location, v2.Task.Image = "web:2", "web:2"
	r.deploy(v2)
	c := r.controller()
	ctx := context.Background()
	crash := func() {
		t.Helper()
		tasks := r.running("web")["h1"]
		require.Len(t, tasks, 1)
		r.clock.Advance(4 * time.Second)
		r.cloud.Host("h1").Finish(tasks[0].ContainerID, 3)
		require.NoError(t, c.Once(ctx))
	}
	crash() // replaced at once
	crash() // held 5s
	r.clock.Advance(6 * time.Second)
	require.NoError(t, c.Once(ctx))
	image := func() string {
		tasks := r.running("web")["h1"]
		require.Len(t, tasks, 1)
		return r.cloud.Host("h1").TaskSpec(tasks[0].ContainerID).Image
	}
	require.Equal(t, "web:2", image(), "two crashes are a crash loop, not yet a rollback")

	crash() // the third: back to revision 1
	assert.Equal(t, "web:1", image())
	assert.Contains(t, r.log.String(), "(service web) was rolled back to revision 1: the tasks of revision 2 exited within 1m0s of starting 3 times in a row after its deploy completed.")
	s, err := pipeline.Open(ctx, r.target())
	require.NoError(t, err)
	defer s.Close()
	_, _, again := s.JustDeployed(ctx, "web", crashReset, r.clock.Now())
	assert.False(t, again, "the rollback is not rolled back from")
}
