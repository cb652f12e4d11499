package autoscale

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestScalerOutThenInAfterTheCooldown drives a Scaler over a fake fleet: load above the
// target scales out at once, proportionally; once it drops, the service scales in one
// task at a time, each after the in-cooldown, and the no-scale-in reason is recorded only
// when it changes.
func TestScalerOutThenInAfterTheCooldown(t *testing.T) {
	f := newFleet(t)
	f.tasks = f.tasks[:1] // one task on h1
	h1 := f.cloud.Host("h1")
	h1.SetUsage(f.tasks[0].ContainerID, 0.5, 0) // 200% of 256 units
	type applied struct {
		count  int
		reason string
	}
	var counts []applied
	var notes []string
	p := Policy{Service: "web", Min: 1, Max: 4, CPUPercent: 100, CooldownIn: 2 * time.Minute, CooldownOut: time.Minute}
	sc := &Scaler{Policy: p, Sampler: NewSampler(f.source(), Config{}),
		Apply:           func(_ context.Context, n int, why string) error { counts = append(counts, applied{n, why}); return nil },
		RecordNoScaleIn: func(_ context.Context, why string) error { notes = append(notes, why); return nil }}
	ctx := context.Background()
	current := 1
	step := func() Decision {
		d, err := sc.Step(ctx, current, false, f.clock.Now())
		require.NoError(t, err)
		current = d.Count
		return d
	}

	f.statsFor(sc.Sampler, 30*time.Second)
	d := step()
	assert.Equal(t, None, d.Action, "not enough readings yet")
	assert.Contains(t, d.Reason, "has no metrics to scale on: cpu: 5 readings in the last 1m")
	assert.Empty(t, counts)

	f.statsFor(sc.Sampler, 30*time.Second)
	d = step()
	require.Equal(t, Out, d.Action)
	assert.Equal(t, []applied{{2, "(service web) scaled out from 1 to 2 tasks: cpu 200% of target 100%"}}, counts)
	assert.Equal(t, History{LastOut: f.clock.Now()}, sc.History())

	// The load goes: the one task (the test keeps one) idles.
	h1.SetUsage(f.tasks[0].ContainerID, 0, 0)
	f.statsFor(sc.Sampler, time.Minute)
	d = step()
	assert.Equal(t, None, d.Action)
	assert.Equal(t, "(service web) does not scale in: its scale-in cooldown (2m after the last scaling action) has not passed", d.NoScaleInReason)
	f.statsFor(sc.Sampler, 30*time.Second)
	step()
	f.statsFor(sc.Sampler, 30*time.Second)
	d = step()
	require.Equal(t, In, d.Action, "2m after the scale-out")
	assert.Equal(t, applied{1, "(service web) scaled in from 2 to 1 task: cpu 0% of target 100%"}, counts[1])
	f.statsFor(sc.Sampler, 30*time.Second)
	d = step()
	assert.Equal(t, "(service web) does not scale in: it is at the bottom of its range (1 task)", d.NoScaleInReason)
	assert.Equal(t, []string{
		"(service web) does not scale in: it is at the bottom of its range (1 task)",
		"(service web) does not scale in: cpu is not below 90% of its target",
		"(service web) does not scale in: its scale-in cooldown (2m after the last scaling action) has not passed",
		"(service web) does not scale in: it is at the bottom of its range (1 task)",
	}, notes, "each reason once, as it changed")
}

func TestScalerResumesAndReportsWhatItCouldNotWrite(t *testing.T) {
	f := newFleet(t)
	f.cloud.Host("h1").SetUsage(f.tasks[0].ContainerID, 1, 0)
	f.cloud.Host("h2").SetUsage(f.tasks[1].ContainerID, 1, 0)
	sc := &Scaler{Policy: web(), Sampler: NewSampler(f.source(), Config{}),
		Apply:           func(context.Context, int, string) error { return errors.New("the deploy lock is held") },
		RecordNoScaleIn: func(context.Context, string) error { t.Fatal("the reason is the one recorded"); return nil }}
	f.statsFor(sc.Sampler, time.Minute)
	now := f.clock.Now()
	sc.Resume(now.Add(-30*time.Second), time.Time{}, "(service web) does not scale in: cpu is not below 90% of its target")
	d, err := sc.Step(context.Background(), 2, false, now)
	require.NoError(t, err, "the out-cooldown still runs after a restart: nothing to write")
	assert.Equal(t, None, d.Action)

	f.statsFor(sc.Sampler, 30*time.Second)
	d, err = sc.Step(context.Background(), 2, false, f.clock.Now())
	assert.Equal(t, Out, d.Action)
	assert.EqualError(t, err, "scaling service web from 2 to 10 tasks: the deploy lock is held")
	assert.Equal(t, now.Add(-30*time.Second), sc.History().LastOut, "not applied: not in the history")
}

// After a scaling action the readings of the old count are forgotten: a short out-cooldown
// does not let readings from before the scale-out make the next one overshoot.
func TestAScaleOutWaitsForReadingsAtTheNewCount(t *testing.T) {
	f := newFleet(t)
	f.tasks = f.tasks[:1]
	f.cloud.Host("h1").SetUsage(f.tasks[0].ContainerID, 0.5, 0) // 200% of 256 units
	var counts []int
	p := Policy{Service: "web", Min: 1, Max: 8, CPUPercent: 100, CooldownIn: 2 * time.Minute, CooldownOut: 10 * time.Second}
	sc := &Scaler{Policy: p, Sampler: NewSampler(f.source(), Config{}),
		Apply:           func(_ context.Context, n int, _ string) error { counts = append(counts, n); return nil },
		RecordNoScaleIn: func(context.Context, string) error { return nil }}
	ctx := context.Background()
	f.statsFor(sc.Sampler, time.Minute)
	d, err := sc.Step(ctx, 1, false, f.clock.Now())
	require.NoError(t, err)
	require.Equal(t, Out, d.Action)

	f.statsFor(sc.Sampler, 15*time.Second) // past the out-cooldown, a quarter of the window
	d, err = sc.Step(ctx, 2, false, f.clock.Now())
	require.NoError(t, err)
	assert.Equal(t, None, d.Action, "too few readings at 2 tasks: %s", d.Reason)
	assert.Equal(t, []int{2}, counts)
}
