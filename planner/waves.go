package planner

import (
	"fmt"

	"github.com/deckhq/deck/manifest"
)

// effectiveDeployment fills unset rolling limits with ECS's defaults: 100/200 for a
// rolling deployment, 0/100 for recreate. A max of 0 is never valid, so it means unset.
func effectiveDeployment(d manifest.Deployment) manifest.Deployment {
	if d.MaxPercent == 0 {
		if d.Strategy == "recreate" {
			d.MinHealthyPercent, d.MaxPercent = 0, 100
		} else {
			d.MinHealthyPercent, d.MaxPercent = 100, 200
		}
	}
	if d.Strategy == "" {
		d.Strategy = "default"
	}
	return d
}

// rollingLimits turns the percentages into task counts as ECS does: min healthy rounds
// up, max running rounds down. Max running is never below the count, so creating the
// desired tasks is always allowed.
func rollingLimits(d manifest.Deployment, count int) (minHealthy, maxRunning int) {
	minHealthy = (count*d.MinHealthyPercent + 99) / 100
	maxRunning = count * d.MaxPercent / 100
	minHealthy = min(max(minHealthy, 0), count)
	maxRunning = max(maxRunning, count)
	return minHealthy, maxRunning
}

// waveStep says how many running tasks one wave replaces: surge replacements start their
// new task before the old one stops; stop-first ones stop the old task first.
type waveStep struct{ surge, stopFirst int }

// nextStep says how many of the `left` running tasks still to replace the next wave may
// replace by the rolling limits alone; the hosts' room may cut it short (see rollout).
//
// healthy is how many tasks run (kept plus those to replace) once the extras of a count
// decrease are stopped; additions are the other tasks of wave 0 (creates and replacements
// of tasks that do not run), which all start in wave 0. Within a wave the executor stops
// the stop-first olds, starts the new tasks and waits for them, then stops the other
// olds. Across a wave, then:
//   - after the first stops: healthy - stopFirst >= minHealthy
//   - while new tasks start: healthy + additions + surge <= maxRunning (the stop-first
//     olds already stopped make room for their own replacements)
//
// and once the wave is done the service runs its full count again (healthy = count,
// additions = 0 for the next step). When wave 0's additions fill the room, the step is
// empty: replacements wait for them to be healthy. When neither kind of step is possible
// (count 1 at 100/100), the step is one stop-first task and stuck is true, so the caller
// can warn that min healthy will be broken.
func nextStep(healthy, additions, left, minHealthy, maxRunning int) (st waveStep, stuck bool) {
	if left <= 0 {
		return waveStep{}, false
	}
	st.surge = min(left, max(0, maxRunning-healthy-additions))
	st.stopFirst = min(left-st.surge, max(0, healthy-minHealthy))
	if st.surge+st.stopFirst > 0 || additions > 0 {
		return st, false
	}
	return waveStep{stopFirst: 1}, true
}

func stuckWarning(service string, d manifest.Deployment, count int) string {
	return fmt.Sprintf("service %s: min healthy %d%% cannot be kept with max %d%% and count %d: "+
		"tasks are replaced one at a time, each stopped before its replacement starts",
		service, d.MinHealthyPercent, d.MaxPercent, count)
}
