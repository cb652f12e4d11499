package pipeline

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/executor"
	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers/fake"
	"github.com/deckhq/deck/providers/history"
)

// scaledWeb is web with a count range, as a manifest with range: min-max gives it.
func scaledWeb(lo, hi int) manifest.ServiceSpec {
	s := webService(lo)
	s.Count = manifest.Count{Value: lo, Range: &manifest.CountRange{Min: lo, Max: hi},
		Scale: &manifest.ScaleTargets{CPUPercent: 70, CooldownIn: manifest.DefaultCooldownIn, CooldownOut: manifest.DefaultCooldownOut}}
	return s
}

func (r *rig) running(t *testing.T) int {
	t.Helper()
	n := 0
	for _, h := range r.env.Hosts {
		for _, task := range r.cloud.Host(h.Name).Tasks() {
			if task.Running() {
				n++
			}
		}
	}
	return n
}

func (r *rig) desiredCount(t *testing.T) int {
	t.Helper()
	got, err := ReadDesired(context.Background(), r.session(t))
	require.NoError(t, err)
	return got["web"].Count.Value
}

func TestDeployKeepsTheCountTheAutoscalerSet(t *testing.T) {
	r := newRig(t, 2)
	ctx := context.Background()
	_, err := r.deploy(t, scaledWeb(2, 10))
	require.NoError(t, err)
	assert.Equal(t, 2, r.running(t), "a first deploy starts at the range's min")

	const why = "(service web) scaled out from 2 to 4 tasks: cpu 145% of target 70%"
	require.NoError(t, SetDesiredCount(ctx, r.session(t), "web", 4, why, nil))
	assert.Equal(t, 4, r.desiredCount(t))
	assert.Equal(t, 2, r.running(t), "the count is recorded; the tasks follow at the next reconcile")

	// The controller's reconcile reads the count back from the hosts.
	require.NoError(t, heal(ctx, Target{App: r.app, Env: r.env, Dialer: r.cloud}))
	assert.Equal(t, 4, r.running(t))
	require.NoError(t, SetDesiredCount(ctx, r.session(t), "web", 3, "(service web) scaled in from 4 to 3 tasks: cpu 20% of target 70%", nil))

	out, err := r.deploy(t, scaledWeb(2, 10))
	require.NoError(t, err)
	assert.Equal(t, 3, r.running(t), "deploy keeps the autoscaler's 3, not the min")
	assert.Equal(t, 3, r.desiredCount(t))
	require.Len(t, out.Plan.Services, 1)
	assert.Equal(t, 3, out.Plan.Services[0].Desired, "the plan shows the kept count")

	_, err = r.deploy(t, scaledWeb(1, 2))
	require.NoError(t, err)
	assert.Equal(t, 2, r.running(t), "a narrower range clamps the kept count")
	assert.Equal(t, 2, r.desiredCount(t))

	_, err = r.deploy(t, scaledWeb(5, 8))
	require.NoError(t, err)
	assert.Equal(t, 5, r.running(t), "and so does a higher min")

	_, err = r.deploy(t, webService(1))
	require.NoError(t, err)
	assert.Equal(t, 1, r.running(t), "a fixed count is the manifest's")
}

func TestAServiceWithAFixedCountKeepsItWhenItGetsARange(t *testing.T) {
	r := newRig(t, 2)
	_, err := r.deploy(t, webService(3))
	require.NoError(t, err)
	_, err = r.deploy(t, scaledWeb(2, 10))
	require.NoError(t, err)
	assert.Equal(t, 3, r.running(t))
}

func TestSetDesiredCountRecordsTheActionAndItsReason(t *testing.T) {
	r := newRig(t, 2)
	ctx := context.Background()
	other := webService(1)
	other.Name = "api"
	_, err := r.deploy(t, scaledWeb(2, 10), other)
	require.NoError(t, err)
	s := r.session(t)

	const out = "(service web) scaled out from 2 to 5 tasks: requests 14.0 in flight per task of target 5"
	const in = "(service web) scaled in from 5 to 4 tasks: requests 1.0 in flight per task of target 5"
	require.NoError(t, SetDesiredCount(ctx, s, "web", 5, out, nil))
	require.NoError(t, RecordNoScaleIn(ctx, s, "web", "(service web) does not scale in: the scale-in cooldown has 1m20s left", nil))
	states, err := ReadScaleStates(ctx, s)
	require.NoError(t, err)
	st := states["web"]
	require.NotNil(t, st.Last)
	assert.Equal(t, ScaleAction{Time: st.Last.Time, From: 2, To: 5, Reason: out}, *st.Last)
	assert.Equal(t, st.Last.Time, st.LastOut)
	assert.True(t, st.LastIn.IsZero())
	assert.Contains(t, st.NoScaleIn, "cooldown has 1m20s left")

	require.NoError(t, SetDesiredCount(ctx, s, "web", 4, in, nil))
	require.NoError(t, SetDesiredCount(ctx, s, "web", 4, in, nil), "the count it has: nothing to do")
	states, err = ReadScaleStates(ctx, s)
	require.NoError(t, err)
	st = states["web"]
	assert.Equal(t, 4, st.Last.To)
	assert.False(t, st.LastIn.IsZero())
	assert.Empty(t, st.NoScaleIn, "it scaled in: nothing holds it back")

	events, err := history.New([]*fake.Host{r.cloud.Host("h1"), r.cloud.Host("h2")}, "shop", "prod").Audit(ctx)
	require.NoError(t, err)
	var scaling []history.Event
	for _, e := range events {
		if e.Kind == history.EventScaleOut || e.Kind == history.EventScaleIn {
			scaling = append(scaling, e)
		}
	}
	require.Len(t, scaling, 2, "one event per action: the repeat wrote nothing")
	assert.Equal(t, history.EventScaleOut, scaling[0].Kind)
	assert.Equal(t, out, scaling[0].Text)
	assert.Equal(t, "web", scaling[1].Service)
	assert.Equal(t, in, scaling[1].Text)
	assert.Contains(t, scaling[1].Who, "autoscaler@")

	for count, msg := range map[int]string{11: "count 11 is outside the range 2-10 of service web", 1: "outside the range"} {
		assert.ErrorContains(t, SetDesiredCount(ctx, s, "web", count, "x", nil), msg)
	}
	assert.ErrorContains(t, SetDesiredCount(ctx, s, "api", 2, "x", nil), "service api has a fixed count (1)")
	assert.ErrorContains(t, SetDesiredCount(ctx, s, "nope", 2, "x", nil), "service nope has no desired state on the hosts of shop/prod")
}

func TestAnUnchangedNoScaleInReasonWritesNothing(t *testing.T) {
	r := newRig(t, 1)
	ctx := context.Background()
	_, err := r.deploy(t, scaledWeb(2, 10))
	require.NoError(t, err)
	s := r.session(t)
	h := r.cloud.Host("h1")
	names := func() []string {
		recs, err := h.ListRecords(ctx, scalePrefix)
		require.NoError(t, err)
		var out []string
		for _, rec := range recs {
			out = append(out, rec.Name)
		}
		return out
	}
	require.NoError(t, RecordNoScaleIn(ctx, s, "web", "", nil))
	assert.Empty(t, names(), "nothing to say, nothing written")
	const why = "(service web) does not scale in: it is at the bottom of its range (2 tasks)"
	require.NoError(t, RecordNoScaleIn(ctx, s, "web", why, nil))
	first := names()
	require.Len(t, first, 1)
	require.NoError(t, RecordNoScaleIn(ctx, s, "web", why, nil))
	assert.Equal(t, first, names(), "the same reason: no new generation")
	require.NoError(t, RecordNoScaleIn(ctx, s, "web", "(service web) does not scale in: a deployment is in progress", nil))
	assert.NotEqual(t, first, names())
	states, err := ReadScaleStates(ctx, s)
	require.NoError(t, err)
	assert.Equal(t, "(service web) does not scale in: a deployment is in progress", states["web"].NoScaleIn)
	assert.False(t, states["web"].NoScaleInSince.IsZero())
}

// A controller paused past its lease between the writes of a scaling action writes no
// more once it resumes: the fence is asked before each host's record, the audit trail
// and the scaling state.
func TestSetDesiredCountStopsWritingOnceFencedOut(t *testing.T) {
	r := newRig(t, 3)
	ctx := context.Background()
	_, err := r.deploy(t, scaledWeb(2, 10))
	require.NoError(t, err)
	var mu sync.Mutex
	calls := 0
	fenceFn := func() error { // the lease is lost after the first write's check
		mu.Lock()
		defer mu.Unlock()
		if calls++; calls > 1 {
			return executor.ErrLockLost
		}
		return nil
	}
	err = SetDesiredCount(ctx, r.session(t), "web", 5, "(service web) scaled out from 2 to 5 tasks", fenceFn)
	require.ErrorIs(t, err, executor.ErrLockLost)

	took := 0
	for _, h := range r.env.Hosts {
		recs, err := r.cloud.Host(h.Name).ListRecords(ctx, recordPrefix)
		require.NoError(t, err)
		for _, rec := range recs {
			if strings.Contains(rec.Labels[labelDesired], `"value":5`) {
				took++
			}
		}
	}
	assert.Equal(t, 1, took, "one host's record was written before the lease was lost, no other")
	st, err := ReadScaleStates(ctx, r.session(t))
	require.NoError(t, err)
	assert.Nil(t, st["web"].Last, "no scaling state written")
	events, err := history.New([]*fake.Host{r.cloud.Host("h1"), r.cloud.Host("h2"), r.cloud.Host("h3")}, "shop", "prod").Audit(ctx)
	require.NoError(t, err)
	for _, e := range events {
		assert.NotEqual(t, history.EventScaleOut, e.Kind, "no audit trail entry: %s", e.Text)
	}
}

// heal runs one reconcile as the controller does (controller/reconcile.go): what should run
// is read back from the hosts.
func heal(ctx context.Context, t Target) error {
	t.Services = nil
	d := Deploy{Target: t, Heal: true, Partial: true, HTTPClient: &http.Client{Transport: answer200{}},
		Desired: func(ctx context.Context, s *Session) (*Resolved, error) {
			res, _, err := FromHosts(ctx, s, nil)
			return res, err
		}}
	out, err := d.Run(ctx)
	if out.Session != nil {
		out.Session.Close()
	}
	return err
}
