package autoscale

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/deckhq/deck/manifest"
)

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func web() Policy {
	return Policy{Service: "web", Min: 2, Max: 10, CPUPercent: 70, CooldownIn: 2 * time.Minute, CooldownOut: time.Minute}
}

func ok(v float64) Metric { return Metric{Value: v, OK: true, Readings: 12} }

func TestDecide(t *testing.T) {
	withMemory := web()
	withMemory.MemoryPercent = 80
	withRequests := web()
	withRequests.CPUPercent, withRequests.Requests = 0, 10
	ago := func(d time.Duration) time.Time { return t0.Add(-d) }

	tests := []struct {
		name      string
		p         Policy
		current   int
		m         Metrics
		last      History
		deploying bool
		want      Decision
	}{
		{name: "out proportionally: ceil(2 x 145 / 70)", p: web(), current: 2, m: Metrics{CPU: ok(145)},
			want: Decision{Count: 5, Action: Out, Reason: "(service web) scaled out from 2 to 5 tasks: cpu 145% of target 70%",
				NoScaleInReason: "(service web) does not scale in: cpu is not below 90% of its target"}},
		{name: "out within the range", p: web(), current: 8, m: Metrics{CPU: ok(200)},
			want: Decision{Count: 10, Action: Out, Reason: "(service web) scaled out from 8 to 10 tasks: cpu 200% of target 70%",
				NoScaleInReason: "(service web) does not scale in: cpu is not below 90% of its target"}},
		{name: "at the top of the range", p: web(), current: 10, m: Metrics{CPU: ok(200)},
			want: Decision{Count: 10, Action: None, Reason: "(service web) is at the top of its range (10 tasks): cpu 200% of target 70%",
				NoScaleInReason: "(service web) does not scale in: cpu is not below 90% of its target"}},
		{name: "out waits for its cooldown since the last scale-out", p: web(), current: 2, m: Metrics{CPU: ok(145)}, last: History{LastOut: ago(30 * time.Second)},
			want: Decision{Count: 2, Action: None, Reason: "(service web) waits 30s for its scale-out cooldown before scaling out to 5 tasks: cpu 145% of target 70%",
				NoScaleInReason: "(service web) does not scale in: cpu is not below 90% of its target"}},
		{name: "out once the cooldown has passed", p: web(), current: 2, m: Metrics{CPU: ok(145)}, last: History{LastOut: ago(time.Minute)},
			want: Decision{Count: 5, Action: Out, Reason: "(service web) scaled out from 2 to 5 tasks: cpu 145% of target 70%",
				NoScaleInReason: "(service web) does not scale in: cpu is not below 90% of its target"}},
		{name: "a recent scale-in does not hold a scale-out back", p: web(), current: 3, m: Metrics{CPU: ok(100)}, last: History{LastIn: ago(time.Second)},
			want: Decision{Count: 5, Action: Out, Reason: "(service web) scaled out from 3 to 5 tasks: cpu 100% of target 70%",
				NoScaleInReason: "(service web) does not scale in: cpu is not below 90% of its target"}},
		{name: "out during a deployment", p: web(), current: 4, m: Metrics{CPU: ok(140)}, deploying: true,
			want: Decision{Count: 8, Action: Out, Reason: "(service web) scaled out from 4 to 8 tasks: cpu 140% of target 70%",
				NoScaleInReason: "(service web) does not scale in: cpu is not below 90% of its target"}},
		{name: "out if any metric says so", p: withMemory, current: 4, m: Metrics{CPU: ok(10), Memory: ok(100)},
			want: Decision{Count: 5, Action: Out, Reason: "(service web) scaled out from 4 to 5 tasks: memory 100% of target 80%",
				NoScaleInReason: "(service web) does not scale in: memory is not below 90% of its target"}},
		{name: "out on one metric while another has no data", p: withMemory, current: 4, m: Metrics{CPU: ok(105)},
			want: Decision{Count: 6, Action: Out, Reason: "(service web) scaled out from 4 to 6 tasks: cpu 105% of target 70%",
				NoScaleInReason: "(service web) does not scale in: cpu is not below 90% of its target"}},
		{name: "the metric that asks for most wins", p: withMemory, current: 4, m: Metrics{CPU: ok(140), Memory: ok(100)},
			want: Decision{Count: 8, Action: Out, Reason: "(service web) scaled out from 4 to 8 tasks: cpu 140% of target 70%, memory 100% of target 80%",
				NoScaleInReason: "(service web) does not scale in: cpu and memory are not below 90% of their targets"}},
		{name: "requests in flight per task", p: withRequests, current: 3, m: Metrics{Requests: ok(25)},
			want: Decision{Count: 8, Action: Out, Reason: "(service web) scaled out from 3 to 8 tasks: requests 25.0 in flight per task of target 10",
				NoScaleInReason: "(service web) does not scale in: requests is not below 90% of its target"}},
		{name: "in by one task", p: web(), current: 6, m: Metrics{CPU: ok(20)},
			want: Decision{Count: 5, Action: In, Reason: "(service web) scaled in from 6 to 5 tasks: cpu 20% of target 70%"}},
		{name: "in by at most 10%", p: Policy{Service: "web", Min: 1, Max: 100, CPUPercent: 70}, current: 40, m: Metrics{CPU: ok(5)},
			want: Decision{Count: 36, Action: In, Reason: "(service web) scaled in from 40 to 36 tasks: cpu 5% of target 70%"}},
		{name: "in only if all metrics agree", p: withMemory, current: 6, m: Metrics{CPU: ok(10), Memory: ok(75)},
			want: Decision{Count: 6, Action: None, NoScaleInReason: "(service web) does not scale in: memory is not below 90% of its target"}},
		{name: "in when all metrics agree", p: withMemory, current: 6, m: Metrics{CPU: ok(10), Memory: ok(50)},
			want: Decision{Count: 5, Action: In, Reason: "(service web) scaled in from 6 to 5 tasks: cpu 10% of target 70%, memory 50% of target 80%"}},
		{name: "no scale-in just under the target", p: web(), current: 6, m: Metrics{CPU: ok(63)},
			want: Decision{Count: 6, Action: None, NoScaleInReason: "(service web) does not scale in: cpu is not below 90% of its target"}},
		{name: "no scale-in that would put a metric above its target", p: web(), current: 3, m: Metrics{CPU: ok(60)},
			want: Decision{Count: 3, Action: None, NoScaleInReason: "(service web) does not scale in: with fewer tasks cpu would be above its target"}},
		{name: "never below the range", p: web(), current: 2, m: Metrics{CPU: ok(1)},
			want: Decision{Count: 2, Action: None, NoScaleInReason: "(service web) does not scale in: it is at the bottom of its range (2 tasks)"}},
		{name: "never in during a deployment", p: web(), current: 6, m: Metrics{CPU: ok(1)}, deploying: true,
			want: Decision{Count: 6, Action: None, NoScaleInReason: "(service web) does not scale in: a deployment is in progress"}},
		{name: "in waits for its cooldown after a scale-out", p: web(), current: 6, m: Metrics{CPU: ok(1)}, last: History{LastOut: ago(90 * time.Second)},
			want: Decision{Count: 6, Action: None, NoScaleInReason: "(service web) does not scale in: its scale-in cooldown (2m after the last scaling action) has not passed"}},
		{name: "in waits for its cooldown after a scale-in", p: web(), current: 6, m: Metrics{CPU: ok(1)}, last: History{LastIn: ago(time.Minute), LastOut: ago(time.Hour)},
			want: Decision{Count: 6, Action: None, NoScaleInReason: "(service web) does not scale in: its scale-in cooldown (2m after the last scaling action) has not passed"}},
		{name: "in once the cooldown has passed", p: web(), current: 6, m: Metrics{CPU: ok(1)}, last: History{LastIn: ago(2 * time.Minute)},
			want: Decision{Count: 5, Action: In, Reason: "(service web) scaled in from 6 to 5 tasks: cpu 1% of target 70%"}},
		{name: "no action without data", p: withMemory, current: 6, m: Metrics{CPU: Metric{Missing: "3 readings in the last 1m, want 6"}},
			want: Decision{Count: 6, Action: None, Reason: "(service web) has no metrics to scale on: cpu: 3 readings in the last 1m, want 6; memory: no readings",
				NoScaleInReason: "(service web) does not scale in: no data for cpu and memory"}},
		{name: "a value without OK is no data", p: web(), current: 6, m: Metrics{CPU: Metric{Value: 1}},
			want: Decision{Count: 6, Action: None, Reason: "(service web) has no metrics to scale on: cpu: no readings",
				NoScaleInReason: "(service web) does not scale in: no data for cpu"}},
		{name: "below the range: out to its min at once", p: web(), current: 1, m: Metrics{}, last: History{LastOut: ago(time.Second)},
			want: Decision{Count: 2, Action: Out, Reason: "(service web) scaled out from 1 to 2 tasks: below its range 2-10",
				NoScaleInReason: "(service web) does not scale in: it is at the bottom of its range (2 tasks)"}},
		{name: "above the range: in to its max at once", p: web(), current: 12, m: Metrics{CPU: ok(500)},
			want: Decision{Count: 10, Action: In, Reason: "(service web) scaled in from 12 to 10 tasks: above its range 2-10"}},
		{name: "above the range during a deployment", p: web(), current: 12, deploying: true,
			want: Decision{Count: 12, Action: None, Reason: "(service web) is above its range 2-10 with 12 tasks, and a deployment is in progress",
				NoScaleInReason: "(service web) does not scale in: a deployment is in progress"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Decide(tt.p, tt.current, tt.m, tt.last, tt.deploying, t0))
		})
	}
}

func TestNoScaleInReasonHoldsNoLiveNumbers(t *testing.T) {
	a := Decide(web(), 6, Metrics{CPU: ok(65)}, History{}, false, t0)
	b := Decide(web(), 6, Metrics{CPU: ok(68)}, History{}, false, t0)
	assert.Equal(t, a.NoScaleInReason, b.NoScaleInReason, "an unchanged cause is an unchanged reason: recorded once")
	c := Decide(web(), 6, Metrics{CPU: ok(1)}, History{LastOut: t0.Add(-time.Minute)}, false, t0)
	d := Decide(web(), 6, Metrics{CPU: ok(1)}, History{LastOut: t0.Add(-time.Minute)}, false, t0.Add(30*time.Second))
	assert.Equal(t, c.NoScaleInReason, d.NoScaleInReason)
}

func TestPolicyOf(t *testing.T) {
	_, isScaled := PolicyOf(manifest.Count{Value: 3})
	assert.False(t, isScaled, "a fixed count")
	p, isScaled := PolicyOf(manifest.Count{Value: 2, Range: &manifest.CountRange{Min: 2, Max: 10},
		Scale: &manifest.ScaleTargets{CPUPercent: 70, MemoryPercent: 80, RequestsPerTask: 100, CooldownIn: 2 * time.Minute, CooldownOut: time.Minute}})
	assert.True(t, isScaled)
	assert.Equal(t, Policy{Min: 2, Max: 10, CPUPercent: 70, MemoryPercent: 80, Requests: 100, CooldownIn: 2 * time.Minute, CooldownOut: time.Minute}, p)
	_, isScaled = PolicyOf(manifest.Count{Value: 2, Range: &manifest.CountRange{Min: 2, Max: 10}, Scale: &manifest.ScaleTargets{}})
	assert.False(t, isScaled, "no target")
}

func TestHistoryRecord(t *testing.T) {
	h := History{}.Record(Decision{Action: Out}, t0)
	assert.Equal(t, History{LastOut: t0}, h)
	h = h.Record(Decision{Action: In}, t0.Add(time.Minute))
	assert.Equal(t, History{LastOut: t0, LastIn: t0.Add(time.Minute)}, h)
	assert.Equal(t, h, h.Record(Decision{Action: None}, t0.Add(time.Hour)))
}
