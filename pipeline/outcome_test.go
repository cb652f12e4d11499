package pipeline

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/executor"
	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/history"
)

// How a run ended is recorded as it ended: in deck history, deck events, and the desired
// state the controller acts on.

// The user interrupts a deploy while its new tasks wait for their health checks. The
// interrupt was once counted as failed tasks: the breaker tripped, deck ran a rollback the
// user could not interrupt and recorded the revision as rolled back, though no task of it
// failed.
func TestInterruptedDeployIsNotRolledBack(t *testing.T) {
	r := newRig(t, 2)
	_, err := r.deploy(t, withGreeting(webService(4), "v1"))
	require.NoError(t, err)
	for _, h := range []string{"h1", "h2"} {
		r.cloud.Host(h).Healthy = func(s providers.TaskSpec) bool { return s.Env["GREETING"] != "v2" }
	}
	v2 := withGreeting(webService(4), "v2")
	v2.Task.Healthcheck = &manifest.Healthcheck{Command: []string{"/check"}, Interval: time.Hour, Timeout: time.Second, Retries: 3}
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	started := 0
	d := Deploy{Target: Target{App: r.app, Env: r.env, Services: []manifest.ServiceSpec{v2}, Dialer: r.cloud},
		Events: func(e executor.Event) {
			mu.Lock()
			defer mu.Unlock()
			if e.Kind == executor.EventTaskStarted {
				started++
				if started == 4 {
					cancel() // Ctrl-C, as the fourth task begins to wait for its health check
				}
			}
		}}
	out, err := d.Run(ctx)
	if out.Session != nil {
		out.Session.Close()
	}
	require.Error(t, err)
	var rb *RolledBackError
	assert.False(t, errors.As(err, &rb), "an interrupted deploy is not a breaker rollback: %v", err)
	entries := r.history(t)
	assert.NotEqual(t, history.RolledBack, outcomes(entries)[2], "deck history must not say revision 2 was rolled back by its breaker")
	assert.Contains(t, entries[1].Detail, "interrupted before it completed", "history says it was interrupted, not what to fix")
}

// A deploy changes the route's health check path together with a revision whose tasks
// fail; the breaker rolls back and, on purpose (keepRouteSettings), the balancer keeps the
// old health path, which the old tasks answer. The desired state the deploy recorded
// (before it applied) must then name the old route too: the controller's next reconcile
// (Heal, FromHosts) once put the failed revision's health path on the balancer, and
// Caddy's active check failed every old task.
func TestControllerKeepsTheRouteARollbackReturnedTo(t *testing.T) {
	r, b, target := routedWeb(t)
	target.Services[0] = withGreeting(target.Services[0], "v1")
	d := Deploy{Target: target, HTTPClient: &http.Client{Transport: answer200{}}}
	out, err := d.Run(context.Background())
	require.NoError(t, err)
	out.Session.Close()

	for _, h := range []string{"h1", "h2"} {
		r.cloud.Host(h).Exits = func(s providers.TaskSpec) (int, bool) { return 1, s.Env["GREETING"] == "v2" }
	}
	v2 := withGreeting(target.Services[0], "v2")
	v2.HTTP = &manifest.HTTP{Path: "/", Healthcheck: manifest.TargetHealthcheck{Path: "/v2-only-health"}}
	t2 := target
	t2.Services = []manifest.ServiceSpec{v2}
	out, err = Deploy{Target: t2, HTTPClient: &http.Client{Transport: answer200{}}}.Run(context.Background())
	out.Session.Close()
	var rb *RolledBackError
	require.ErrorAs(t, err, &rb)
	require.NoError(t, rb.Rollback)
	routes, err := b.Routes(context.Background(), "shop", "prod")
	require.NoError(t, err)
	require.Equal(t, "/", routes["web"].Health.Path, "the rollback keeps the old health path (keepRouteSettings)")

	require.NoError(t, heal(context.Background(), target), "the controller's reconcile")
	routes, err = b.Routes(context.Background(), "shop", "prod")
	require.NoError(t, err)
	assert.Equal(t, "/", routes["web"].Health.Path,
		"the controller must not give the rolled-back revision's health path to the old tasks")
}

// A deploy of two services where one fails: the other one's revision completed, and deck
// events says so as deck history does (it once said "failed", with the other's error).
func TestEventLogAgreesWithHistoryWhenOneServiceFails(t *testing.T) {
	r := newRig(t, 2)
	web := webService(1)
	api := webService(1)
	api.Name = "api"
	api.Task.Variables = map[string]string{"WHO": "api"}
	for _, h := range []string{"h1", "h2"} {
		r.cloud.Host(h).Exits = func(s providers.TaskSpec) (int, bool) { return 1, s.Env["WHO"] == "api" }
	}
	log := NewEventLog(nil)
	d := Deploy{Target: Target{App: r.app, Env: r.env, Services: []manifest.ServiceSpec{web, api}, Dialer: r.cloud}, Log: log}
	out, err := d.Run(context.Background())
	require.Error(t, err)
	require.NoError(t, log.Flush(context.Background(), out.Session))
	out.Session.Close()
	assert.Equal(t, history.Completed, outcomes(r.history(t))[1], "web's revision 1 completed")
	evs, err := ReadEventLog(context.Background(), r.session(t), time.Time{})
	require.NoError(t, err)
	var webOutcome []string
	for _, e := range evs {
		if e.Service == "web" && (e.Kind == KindDeployCompleted || e.Kind == KindDeployFailed) {
			webOutcome = append(webOutcome, string(e.Kind)+": "+e.Message)
		}
	}
	require.Len(t, webOutcome, 1)
	assert.Contains(t, webOutcome[0], string(KindDeployCompleted), "deck events must agree with deck history")
}

// deck plan --out saves a plan for count 2; the manifest is then edited to count 4. A count
// is no part of a revision, and deck deploy --plan once applied the plan (2 tasks) while
// recording the manifest's 4 for the controller to carry out, unreviewed. The plan is now
// refused, and nothing changes; unchanged settings apply, and the plan's are recorded.
func TestSavedPlanIsRefusedWhenASettingChanged(t *testing.T) {
	r := newRig(t, 2)
	_, err := r.deploy(t, webService(1))
	require.NoError(t, err)

	planOnly := Deploy{Target: Target{App: r.app, Env: r.env, Services: []manifest.ServiceSpec{webService(2)}, Dialer: r.cloud}, PlanOnly: true}
	out, err := planOnly.Run(context.Background())
	require.NoError(t, err)
	out.Session.Close()
	saved := out.Plan
	require.Equal(t, 2, saved.Services[0].Desired)

	tasks := func() int {
		n := 0
		for _, h := range []string{"h1", "h2"} {
			n += len(r.cloud.Host(h).Tasks())
		}
		return n
	}
	d := Deploy{Target: Target{App: r.app, Env: r.env, Services: []manifest.ServiceSpec{webService(4)}, Dialer: r.cloud},
		Saved: saved, SavedPath: "plan.json"}
	out, err = d.Run(context.Background())
	out.Session.Close()
	require.EqualError(t, err, "the settings of service web (count, scaling, rollout, placement, schedule or route) changed since plan plan.json was made. Run deck plan again")
	assert.Equal(t, 1, tasks(), "nothing was changed")
	got, err := ReadDesired(context.Background(), r.session(t))
	require.NoError(t, err)
	assert.Equal(t, 1, got["web"].Count.Value, "nor recorded")

	d.Target.Services = []manifest.ServiceSpec{webService(2)} // as when the plan was made
	out, err = d.Run(context.Background())
	out.Session.Close()
	require.NoError(t, err)
	assert.Equal(t, 2, tasks(), "the saved plan was applied")
	got, err = ReadDesired(context.Background(), r.session(t))
	require.NoError(t, err)
	assert.Equal(t, 2, got["web"].Count.Value, "the plan's desired state is recorded")
}

// breakingLease is a lease that is lost once broken is set (deck lock release --force).
type breakingLease struct{ broken *atomic.Bool }

func (l breakingLease) Epoch() uint64 { return 1 }
func (l breakingLease) Check() error {
	if l.broken.Load() {
		return executor.ErrLockLost
	}
	return nil
}
func (breakingLease) Release(context.Context) error { return nil }

// A deploy whose lock was broken after its new tasks passed and before its old ones
// stopped leaves both revisions' tasks running and its revision in progress (another
// holder may have taken it over: it records no outcome). The rerun of the same manifests
// converges by stopping the old tasks, and starts none: it ends the revision, completed.
// Were it left so, the controller, which runs the newest completed revision, would take
// the service back to the old one.
func TestARerunAfterABrokenLockCompletesTheRevision(t *testing.T) {
	r, d := halfDeployed(t)
	require.Equal(t, history.InProgress, outcomes(r.history(t))[2], "a deploy that lost its lock ends no revision")

	out, err := d.Run(context.Background())
	out.Session.Close()
	require.NoError(t, err)
	require.Equal(t, map[string]int{"v2": 2}, greetings(r), "the rerun stopped the old tasks")
	assert.Equal(t, history.Completed, outcomes(r.history(t))[2])
	assert.Equal(t, "v2", controllerGreeting(t, r), "the controller keeps what runs")
}

// The same with the revision recorded as failed (its run failed for another reason, with
// its new tasks running): the rerun records the revision again, as a new number, completed.
func TestARerunThatOnlyStopsTheOldTasksCompletesTheRevision(t *testing.T) {
	r, d := halfDeployed(t)
	s := r.session(t)
	require.NoError(t, s.history().Finish(context.Background(), "web", 2, history.Failed, "a host stopped answering"))
	s.Close()

	out, err := d.Run(context.Background())
	out.Session.Close()
	require.NoError(t, err)
	require.Equal(t, map[string]int{"v2": 2}, greetings(r), "the rerun stopped the old tasks")
	assert.Equal(t, history.Failed, outcomes(r.history(t))[2])
	assert.Equal(t, history.Completed, outcomes(r.history(t))[3], "the revision that runs is recorded, completed")
	assert.Equal(t, "v2", controllerGreeting(t, r), "the controller keeps what runs")
}

// halfDeployed deploys v1, then v2 with a lock broken as v2's tasks pass: both run. It
// returns the v2 deploy, to run again with a lock that holds.
func halfDeployed(t *testing.T) (*rig, Deploy) {
	r := newRig(t, 2)
	_, err := r.deploy(t, withGreeting(webService(2), "v1"))
	require.NoError(t, err)
	v2 := withGreeting(webService(2), "v2")
	var broken atomic.Bool
	var healthy atomic.Int32
	d := Deploy{Target: Target{App: r.app, Env: r.env, Services: []manifest.ServiceSpec{v2}, Dialer: r.cloud},
		Lock: func(context.Context, *Session) (Lease, error) { return breakingLease{&broken}, nil },
		Events: func(e executor.Event) {
			if e.Kind == executor.EventTaskHealthy && healthy.Add(1) == 2 {
				broken.Store(true) // deck lock release --force, as the new tasks pass
			}
		}}
	out, err := d.Run(context.Background())
	out.Session.Close()
	require.ErrorIs(t, err, executor.ErrLockLost)
	require.Equal(t, map[string]int{"v1": 2, "v2": 2}, greetings(r), "both revisions' tasks run")
	broken.Store(false)
	d.Events = nil
	return r, d
}

// controllerGreeting is the GREETING of the task definition the controller would run.
func controllerGreeting(t *testing.T, r *rig) string {
	s, err := OpenRead(context.Background(), Target{App: r.app, Env: r.env, Dialer: r.cloud})
	require.NoError(t, err)
	defer s.Close()
	res, _, err := FromHosts(context.Background(), s, nil)
	require.NoError(t, err)
	require.Len(t, res.Desired, 1)
	return res.Desired[0].Service.Task.Variables["GREETING"]
}

// A deploy of two services that changes one says nothing in deck events of the other.
func TestEventLogLeavesOutTheServicesADeployDidNotChange(t *testing.T) {
	r := newRig(t, 2)
	web, api := webService(1), webService(1)
	api.Name = "api"
	_, err := r.deploy(t, web, api)
	require.NoError(t, err)
	log := NewEventLog(nil)
	d := Deploy{Target: Target{App: r.app, Env: r.env, Services: []manifest.ServiceSpec{withGreeting(web, "v2"), api}, Dialer: r.cloud}, Log: log}
	out, err := d.Run(context.Background())
	require.NoError(t, err)
	require.NoError(t, log.Flush(context.Background(), out.Session))
	out.Session.Close()
	evs, err := ReadEventLog(context.Background(), r.session(t), time.Time{})
	require.NoError(t, err)
	var kinds []string
	for _, e := range evs {
		if e.Kind == KindDeployStarted || e.Kind == KindDeployCompleted {
			kinds = append(kinds, e.Service+" "+string(e.Kind))
		}
	}
	assert.Equal(t, []string{"web " + string(KindDeployStarted), "web " + string(KindDeployCompleted)}, kinds)
}
