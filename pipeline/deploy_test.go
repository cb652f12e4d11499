package pipeline

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/executor"
	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/fake"
)

type rig struct {
	cloud *fake.Cloud
	app   *manifest.App
	env   *manifest.Environment
}

func newRig(t *testing.T, hosts int) *rig {
	r := &rig{cloud: fake.NewCloud(), app: &manifest.App{Name: "shop"}, env: &manifest.Environment{Name: "prod"}}
	for i := 1; i <= hosts; i++ {
		spec := manifest.HostSpec{Name: "h" + string(rune('0'+i)), URL: "fake://h", Address: "10.0.0." + string(rune('0'+i))}
		r.cloud.AddHost(spec, manifest.Resources{CPU: 4096, Memory: 8192}).AddImage("web:1")
		r.env.Hosts = append(r.env.Hosts, spec)
	}
	return r
}

func webService(count int) manifest.ServiceSpec {
	return manifest.ServiceSpec{App: "shop", Env: "prod", Name: "web", Type: manifest.BackendService,
		Image: manifest.ImageSpec{Location: "web:1"},
		Task: manifest.TaskDef{Image: "web:1", CPU: 256, Memory: 256, StopTimeout: time.Second,
			Healthcheck: &manifest.Healthcheck{Command: []string{"/check"}, Interval: 20 * time.Millisecond, Timeout: 20 * time.Millisecond, Retries: 3}},
		Count:      manifest.Count{Value: count},
		Deployment: manifest.Deployment{Strategy: "default", MinHealthyPercent: 100, MaxPercent: 200},
		Placement:  manifest.Placement{Strategy: "spread"}}
}

func (r *rig) deploy(t *testing.T, svcs ...manifest.ServiceSpec) (*Outcome, error) {
	t.Helper()
	d := Deploy{Target: Target{App: r.app, Env: r.env, Services: svcs, Dialer: r.cloud}}
	out, err := d.Run(context.Background())
	if out.Session != nil {
		out.Session.Close()
	}
	return out, err
}

func (r *rig) session(t *testing.T) *Session {
	s, err := Open(context.Background(), Target{App: r.app, Env: r.env, Dialer: r.cloud})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

func TestDesiredStateIsRecordedOnTheHostsAndFollowsCountChanges(t *testing.T) {
	r := newRig(t, 2)
	_, err := r.deploy(t, webService(2))
	require.NoError(t, err)
	got, err := ReadDesired(context.Background(), r.session(t))
	require.NoError(t, err)
	assert.Equal(t, 2, got["web"].Count.Value)

	// Scaling in creates nothing, so no task label can say so: the record must.
	_, err = r.deploy(t, webService(1))
	require.NoError(t, err)
	got, err = ReadDesired(context.Background(), r.session(t))
	require.NoError(t, err)
	assert.Equal(t, 1, got["web"].Count.Value)
	for _, h := range []string{"h1", "h2"} {
		recs, err := r.cloud.Host(h).ListRecords(context.Background(), recordPrefix)
		require.NoError(t, err)
		assert.Len(t, recs, 1, "older generations are removed on %s", h)
	}
}

func TestNoOpPlanDoesNotReadCapacity(t *testing.T) {
	r := newRig(t, 2)
	_, err := r.deploy(t, webService(2))
	require.NoError(t, err)
	s := r.session(t)
	require.NoError(t, s.Read(context.Background()))
	res, err := Resolve("shop", "prod", []manifest.ServiceSpec{webService(2)}, nil, nil)
	require.NoError(t, err)
	plan, err := s.Plan(context.Background(), res.Desired, planner.Options{})
	require.NoError(t, err)
	assert.True(t, plan.Empty())
	assert.True(t, s.Obs.Hosts[0].InfoUnread, "nothing placed, so capacity was not read")

	res, err = Resolve("shop", "prod", []manifest.ServiceSpec{webService(4)}, nil, nil)
	require.NoError(t, err)
	plan, err = s.Plan(context.Background(), res.Desired, planner.Options{})
	require.NoError(t, err)
	assert.Equal(t, 2, plan.Counts()[planner.Create])
	assert.False(t, s.Obs.Hosts[0].InfoUnread, "placing needs the capacity, read once")
}

func TestRerunVerifiesATaskItHasNotSeenHealthy(t *testing.T) {
	r := newRig(t, 1)
	_, err := r.deploy(t, webService(1))
	require.NoError(t, err)
	h := r.cloud.Host("h1")
	require.Len(t, h.Tasks(), 1)
	first := h.Tasks()[0].TaskID
	h.Healthy = func(providers.TaskSpec) bool { return false }
	// A new task that an interrupted run left: same revision, never seen healthy.
	res, err := Resolve("shop", "prod", []manifest.ServiceSpec{webService(2)}, nil, nil)
	require.NoError(t, err)
	rev := res.Desired[0].Revision
	_, err = h.Run(context.Background(), executor.TaskSpec(executor.TaskInput{App: "shop", Env: "prod", Host: "h1", TaskID: "left", Rev: rev}))
	require.NoError(t, err)
	// Only the first task ever passes: the task left behind fails, and so does every
	// replacement the circuit breaker starts for it, until the breaker trips.
	h.Healthy = func(s providers.TaskSpec) bool { return s.Labels[providers.LabelTask] == first }

	var planned *planner.Plan
	d := Deploy{Target: Target{App: r.app, Env: r.env, Services: []manifest.ServiceSpec{webService(2)}, Dialer: r.cloud},
		Planned: func(p *planner.Plan) error { planned = p; return nil }}
	out, err := d.Run(context.Background())
	out.Session.Close()
	require.Error(t, err, "the task never passes: the deploy does not report success")
	var be *executor.BreakerError
	require.ErrorAs(t, err, &be)
	assert.Len(t, be.Failed, 3, "the left task and two replacements failed: ECS's minimum threshold")
	require.NotNil(t, planned)
	assert.Equal(t, map[planner.Action]int{planner.Verify: 1}, planned.Counts())
	assert.Len(t, h.Tasks(), 1, "the task that failed its check was removed; the healthy one serves")
}

type fixedLease struct{ epoch uint64 }

func (l fixedLease) Epoch() uint64                   { return l.epoch }
func (fixedLease) Check() error                      { return nil }
func (fixedLease) Release(ctx context.Context) error { return nil }

func TestADeployUnderAnOlderEpochChangesNothing(t *testing.T) {
	r := newRig(t, 1)
	d := Deploy{Target: Target{App: r.app, Env: r.env, Services: []manifest.ServiceSpec{webService(1)}, Dialer: r.cloud},
		Lock: func(context.Context, *Session) (Lease, error) { return fixedLease{9}, nil }}
	out, err := d.Run(context.Background())
	out.Session.Close()
	require.NoError(t, err)
	before := r.cloud.Host("h1").Tasks()
	d.Target.Services = []manifest.ServiceSpec{webService(2)}
	d.Lock = func(context.Context, *Session) (Lease, error) { return fixedLease{3}, nil }
	out, err = d.Run(context.Background())
	out.Session.Close()
	require.True(t, errors.Is(err, executor.ErrLockLost), "%v", err)
	assert.Contains(t, err.Error(), "created under lock epoch 9, later than this deploy's 3")
	assert.Equal(t, before, r.cloud.Host("h1").Tasks())
}

func TestASettingsOnlyChangeIsRecordedUnderTheLock(t *testing.T) {
	r := newRig(t, 2)
	_, err := r.deploy(t, webService(2))
	require.NoError(t, err)
	locks := 0
	lockF := func(context.Context, *Session) (Lease, error) { locks++; return fixedLease{epoch: 9}, nil }
	run := func(svc manifest.ServiceSpec) {
		out, err := Deploy{Target: Target{App: r.app, Env: r.env, Services: []manifest.ServiceSpec{svc}, Dialer: r.cloud},
			Lock: lockF}.Run(context.Background())
		out.Session.Close()
		require.NoError(t, err)
		require.True(t, out.Plan.Empty(), "no task changes")
	}
	run(webService(2))
	assert.Equal(t, 0, locks, "nothing changed: no lock, no write")

	svc := webService(2)
	svc.Deployment.MinHealthyPercent = 50
	run(svc)
	assert.Equal(t, 1, locks, "the new setting is recorded under the lock")
	got, err := ReadDesired(context.Background(), r.session(t))
	require.NoError(t, err)
	assert.Equal(t, 50, got["web"].Deployment.MinHealthyPercent, "the controller reads the new setting")
}
