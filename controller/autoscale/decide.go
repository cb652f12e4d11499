package autoscale

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// scaleInBelow is how far under its target every metric must be for a scale-in, as ECS's
// scale-in alarm (at 90% of the target): a service settles near its target instead of
// scaling in, then out again.
const scaleInBelow = 0.9

// Decide is target tracking for one service with current tasks desired: see the package
// doc for the rules. deploying is true while a deployment of the service is under way;
// now is compared with last's times for the cooldowns. Pure: no I/O, no clock.
//
// NoScaleInReason holds no live numbers, so it stays the same while the cause does: a
// caller that records it writes only when it changes.
func Decide(p Policy, current int, m Metrics, last History, deploying bool, now time.Time) Decision {
	if d, ok := p.backInRange(current, deploying); ok {
		return d
	}
	ts := p.tracked(m)
	d := p.decideOut(current, ts, last, now)
	if len(over(ts)) > 0 {
		// A metric above its target: that is why it does not scale in, whatever else holds.
		d.NoScaleInReason = p.warmReason(notBelow(ts, scaleInBelow))
		return d
	}
	n, noIn := p.decideIn(current, ts, last, deploying, now)
	if noIn != "" {
		d.NoScaleInReason = noIn
		return d
	}
	why := describe(ts)
	return Decision{Count: n, Action: In, Reason: p.sentence("scaled in from %d to %s: %s", current, tasks(n), why)}
}

// backInRange moves a count outside the range (the manifest's range changed) back into it.
func (p Policy) backInRange(current int, deploying bool) (Decision, bool) {
	switch {
	case current < p.Min:
		return Decision{Count: p.Min, Action: Out,
			Reason:          p.sentence("scaled out from %d to %s: below its range %d-%d", current, tasks(p.Min), p.Min, p.Max),
			NoScaleInReason: p.sentence("does not scale in: it is at the bottom of its range (%s)", tasks(p.Min))}, true
	case current > p.Max && deploying:
		return Decision{Count: current, Action: None,
			Reason:          p.sentence("is above its range %d-%d with %s, and a deployment is in progress", p.Min, p.Max, tasks(current)),
			NoScaleInReason: p.sentence("does not scale in: a deployment is in progress")}, true
	case current > p.Max:
		return Decision{Count: p.Max, Action: In,
			Reason: p.sentence("scaled in from %d to %s: above its range %d-%d", current, tasks(p.Max), p.Min, p.Max)}, true
	}
	return Decision{}, false
}

// decideOut scales out to what the metrics above their targets ask for.
func (p Policy) decideOut(current int, ts []tracked, last History, now time.Time) Decision {
	d := Decision{Count: current, Action: None}
	hot := over(ts)
	if len(hot) == 0 {
		if missing := missingOf(ts); len(missing) == len(ts) {
			d.Reason = p.sentence("has no metrics to scale on: %s", strings.Join(missing, "; "))
		}
		return d
	}
	want := current
	for _, t := range hot {
		want = max(want, t.wants(current))
	}
	n, why := min(want, p.Max), describe(hot)
	if n <= current {
		d.Reason = p.sentence("is at the top of its range (%s): %s", tasks(p.Max), why)
		return d
	}
	if wait := p.CooldownOut - now.Sub(last.LastOut); !last.LastOut.IsZero() && wait > 0 {
		d.Reason = p.sentence("waits %s for its scale-out cooldown before scaling out to %s: %s", wait.Round(time.Second), tasks(n), why)
		return d
	}
	return Decision{Count: n, Action: Out, Reason: p.sentence("scaled out from %d to %s: %s", current, tasks(n), why)}
}

// decideIn returns the count to scale in to, or why the service does not scale in.
func (p Policy) decideIn(current int, ts []tracked, last History, deploying bool, now time.Time) (int, string) {
	if current <= p.Min {
		return 0, p.sentence("does not scale in: it is at the bottom of its range (%s)", tasks(p.Min))
	}
	if deploying {
		return 0, p.sentence("does not scale in: a deployment is in progress")
	}
	if missing := missingOf(ts); len(missing) > 0 {
		return 0, p.sentence("does not scale in: no data for %s", names(missingTracked(ts)))
	}
	if warm := notBelow(ts, scaleInBelow); len(warm) > 0 {
		return 0, p.warmReason(warm)
	}
	// Gradually: one task, or 10% of the count, at a time; never so far that a metric
	// would go above its target, nor below the range.
	n := max(current-max(1, current/10), p.Min)
	var limiting []tracked
	for _, t := range ts {
		if need := t.wants(current); need > n {
			n, limiting = need, append(limiting, t)
		}
	}
	if n >= current {
		_, target := agree(limiting)
		return 0, p.sentence("does not scale in: with fewer tasks %s would be above %s", names(limiting), target)
	}
	since := last.LastIn
	if last.LastOut.After(since) {
		since = last.LastOut
	}
	if !since.IsZero() && now.Sub(since) < p.CooldownIn {
		return 0, p.sentence("does not scale in: its scale-in cooldown (%s after the last scaling action) has not passed", short(p.CooldownIn))
	}
	return n, ""
}

func (p Policy) sentence(format string, args ...any) string {
	return "(service " + p.Service + ") " + fmt.Sprintf(format, args...)
}

// tracked is one metric the policy has a target for.
type tracked struct {
	name   string // cpu, memory or requests
	target int
	m      Metric
}

func (p Policy) tracked(m Metrics) []tracked {
	var ts []tracked
	for _, t := range []tracked{{"cpu", p.CPUPercent, m.CPU}, {"memory", p.MemoryPercent, m.Memory}, {"requests", p.Requests, m.Requests}} {
		if t.target > 0 {
			ts = append(ts, t)
		}
	}
	return ts
}

// wants is the count that brings the metric to its target: the load spread over more (or
// fewer) tasks.
func (t tracked) wants(current int) int {
	return int(math.Ceil(float64(current) * t.m.Value / float64(t.target)))
}

func (t tracked) String() string {
	if t.name == "requests" {
		return fmt.Sprintf("requests %.1f in flight per task of target %d", t.m.Value, t.target)
	}
	return fmt.Sprintf("%s %.0f%% of target %d%%", t.name, t.m.Value, t.target)
}

// over returns the metrics with data above their target: they ask for a scale-out.
func over(ts []tracked) []tracked {
	var out []tracked
	for _, t := range ts {
		if t.m.OK && t.m.Value > float64(t.target) {
			out = append(out, t)
		}
	}
	return out
}

// notBelow returns the metrics with data at or above share of their target.
func notBelow(ts []tracked, share float64) []tracked {
	var out []tracked
	for _, t := range ts {
		if t.m.OK && t.m.Value >= share*float64(t.target) {
			out = append(out, t)
		}
	}
	return out
}

func (p Policy) warmReason(warm []tracked) string {
	verb, target := agree(warm)
	return p.sentence("does not scale in: %s %s not below %d%% of %s", names(warm), verb, int(scaleInBelow*100), target)
}

// agree is the verb and target a list of metrics takes: "is", "its target" for one.
func agree(ts []tracked) (verb, target string) {
	if len(ts) == 1 {
		return "is", "its target"
	}
	return "are", "their targets"
}

func missingTracked(ts []tracked) []tracked {
	var out []tracked
	for _, t := range ts {
		if !t.m.OK {
			out = append(out, t)
		}
	}
	return out
}

// missingOf says, for each metric without data, why.
func missingOf(ts []tracked) []string {
	var out []string
	for _, t := range missingTracked(ts) {
		why := t.m.Missing
		if why == "" {
			why = "no readings"
		}
		out = append(out, t.name+": "+why)
	}
	return out
}

// describe is "cpu 145% of target 70%, requests 12.0 in flight per task of target 10".
func describe(ts []tracked) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.String()
	}
	return strings.Join(parts, ", ")
}

// names is "cpu", "cpu and memory", "cpu, memory and requests".
func names(ts []tracked) string {
	ns := make([]string, len(ts))
	for i, t := range ts {
		ns[i] = t.name
	}
	switch len(ns) {
	case 0:
		return ""
	case 1:
		return ns[0]
	}
	return strings.Join(ns[:len(ns)-1], ", ") + " and " + ns[len(ns)-1]
}

// short is a duration as a manifest writes it: 2m, 1m30s, 45s.
func short(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// tasks is "1 task" or "3 tasks".
func tasks(n int) string {
	if n == 1 {
		return "1 task"
	}
	return fmt.Sprintf("%d tasks", n)
}
