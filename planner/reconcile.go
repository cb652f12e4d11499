package planner

import (
	"slices"

	"github.com/deckhq/deck/planner/state"
	"github.com/deckhq/deck/providers/health"
)

// stop is an existing task the plan stops, and why. For a task to verify, old is the
// serving task of another revision it takes the place of, once it passes (nil for none).
type stop struct {
	task   state.TaskState
	reason Reason
	old    *state.TaskState
}

// buckets is the reconciler's verdict on one service, before placement and waves
// (Nomad's reconciler results, reduced to what a count-of-one-revision service needs).
type buckets struct {
	keep []state.TaskState // serving (seen healthy), of the desired revision and spec: left alone
	// verify are tasks of the desired revision that an earlier run started and deck has
	// not seen healthy: they count as starting, and the deploy waits on their health check.
	verify []stop
	// replace are serving tasks of another revision (or drifted): a new task takes the
	// place of each one, within the rolling limits.
	replace []stop
	// restart are tasks that do not serve (not running, unhealthy, or starting on an old
	// revision): replaced at once, stopped first.
	restart []stop
	// lost are tasks on unreachable hosts: replaced elsewhere at once.
	lost []stop
	// destroy are tasks beyond the desired count: stopped, not replaced.
	destroy []stop
	// create is how many new tasks the count asks for beyond those above.
	create       int
	createReason Reason
	running      int // tasks running now on reachable hosts
}

// reconcile sorts a service's observed tasks into buckets against its desired revision.
// unreachable names the hosts that did not answer: their tasks could not be listed, so a
// shortfall may be theirs, and the reason for the new tasks says so. Tasks on hosts in
// grace (unreachable, but not for long) hold their places untouched; with graceUnknown a
// shortfall is not made up either. A task that a running task of the service replaced
// while its host was unreachable is stale once that host is back: it is stopped first.
//
// Health decides what counts: only tasks seen healthy when the hosts were read serve.
// The count is filled in this order, and what is left over is stopped: serving tasks of
// the desired revision, serving tasks of other revisions (replaced in rolling waves, so
// each stops only once its replacement has passed the health gate), tasks of the desired
// revision still starting (verified), then tasks that do not serve and lost tasks (both
// replaced). So when there are more tasks than desired, unhealthy and unknown ones go
// first, and a healthy task is never stopped for one deck has not seen healthy.
func reconcile(tasks []state.TaskState, rev Revision, count int, unreachable []string, grace map[string]bool, graceUnknown bool) buckets {
	var b buckets
	want := newSpecDiff(rev.Task)
	var olds, starting, broken, lost []state.TaskState
	serving := make([]state.TaskState, 0, len(tasks)) // in a steady state, all of them
	reasons := map[string]Reason{}
	replaced := replacedTasks(tasks)
	waiting := 0
	for _, t := range tasks {
		switch {
		case !t.HostReachable && grace[t.Host]:
			waiting++
			continue
		case !t.HostReachable:
			lost = append(lost, t)
			continue
		case replaced[t.TaskID] != "" && t.Running():
			b.destroy = append(b.destroy, stop{task: t, reason: Reason{Code: ReasonReplaced, Hosts: []string{t.Host}}})
			continue
		case t.Running():
			b.running++
		}
		cur := current(t, rev.ID, want)
		switch {
		case !t.Running():
			broken = append(broken, t)
			reasons[t.ID] = notRunningReason(t)
		case t.Serving() && cur:
			serving = append(serving, t)
		case t.Serving():
			olds = append(olds, t)
		case cur && t.Health != health.StateUnhealthy:
			starting = append(starting, t)
		default:
			broken = append(broken, t)
			reasons[t.ID] = Reason{Code: ReasonUnhealthy, Detail: t.HealthDetail}
		}
	}
	over := countReason(len(tasks), count)
	slots := max(count-waiting, 0)
	// Tasks on hosts in grace hold their places against new tasks, not against the serving
	// tasks that answer: a scale-in while a host is in grace would otherwise stop every
	// task anyone can reach. Up to the count of them are kept; what is over the count is
	// stopped once the host answers again (or its tasks are lost).
	hold := max(min(len(serving)+len(olds), count)-slots, 0)
	slots += hold
	fill := func(list []state.TaskState) []state.TaskState {
		n := min(len(list), slots)
		kept, extra := pickExtras(list, rev.ID, want, len(list)-n)
		for _, t := range extra {
			if !t.HostReachable {
				// Nothing can stop it while its host does not answer, and a change that
				// cannot be made would be planned (and fail) on every run: it is stopped
				// once its host is back, as a task over the count or replaced meanwhile.
				continue
			}
			r := over
			if why, ok := reasons[t.ID]; ok {
				r = why // not running, or unhealthy: why this one goes rather than another
			}
			b.destroy = append(b.destroy, stop{task: t, reason: r})
		}
		slots -= n
		return kept
	}
	b.keep = fill(serving)
	for _, t := range fill(olds) {
		b.replace = append(b.replace, stop{task: t, reason: replaceReason(t, rev.ID, want)})
	}
	// Tasks of the desired revision still starting beyond the count are what an
	// interrupted rollout started in place of serving old tasks: each takes over one
	// replacement (verified, then the old task stops) rather than being stopped for a
	// fresh task that would start from nothing.
	starting = b.takeOver(starting, slots)
	for _, t := range fill(starting) {
		b.verify = append(b.verify, stop{task: t, reason: Reason{Code: ReasonStarting, Detail: t.HealthDetail}})
	}
	for _, t := range fill(broken) {
		b.restart = append(b.restart, stop{task: t, reason: reasons[t.ID]})
	}
	for _, t := range fill(lost) {
		b.lost = append(b.lost, stop{task: t, reason: unreachableReason(t.Host)})
	}
	if slots > 0 && !(graceUnknown && len(grace) > 0) {
		b.create = slots
		b.createReason = countReason(len(tasks), count)
		if len(unreachable) > 0 {
			b.createReason = shortfallReason(len(tasks), count, unreachable)
		}
	}
	return b
}

// takeOver pairs the starting tasks that have no slot of their own (beyond the first
// slots) with the old tasks to replace, one each, on the same host first: each pair
// becomes a verify whose task replaces the old one. It returns the starting tasks left.
func (b *buckets) takeOver(starting []state.TaskState, slots int) []state.TaskState {
	n := min(len(starting)-slots, len(b.replace))
	rest := slices.Clone(starting)
	for _, sameHost := range []bool{true, false} {
		for i := 0; i < len(rest) && n > 0; {
			j := slices.IndexFunc(b.replace, func(r stop) bool { return !sameHost || r.task.Host == rest[i].Host })
			if j < 0 {
				i++
				continue
			}
			old := b.replace[j].task
			b.verify = append(b.verify, stop{task: rest[i], reason: Reason{Code: ReasonStarting, Detail: rest[i].HealthDetail}, old: &old})
			b.replace = slices.Delete(b.replace, j, j+1)
			rest = slices.Delete(rest, i, i+1)
			n--
		}
	}
	return rest
}

// replacedTasks maps the ids of tasks that serving tasks of the service were started in
// place of (their host was unreachable) to the replacement's id. A replacement that has
// not passed its health check (starting, or unhealthy since) replaces nothing yet: the
// task it was started for may be the one that serves, and is weighed with the others.
func replacedTasks(tasks []state.TaskState) map[string]string {
	out := map[string]string{}
	for _, t := range tasks {
		if t.Meta.Replaces != "" && t.Serving() && t.HostReachable {
			out[t.Meta.Replaces] = t.TaskID
		}
	}
	return out
}

// replaceReason says why a serving task of another revision (or drifted) is replaced.
func replaceReason(t state.TaskState, revID string, want specDiff) Reason {
	if t.Revision != revID {
		return newRevisionReason(t, revID, want)
	}
	return driftReason(want.changed(*t.Spec))
}

// current reports whether a running task is of the desired revision and spec.
func current(t state.TaskState, revID string, want specDiff) bool {
	return t.Revision == revID && (t.Spec == nil || want.same(t.Spec))
}

// pickExtras chooses n running tasks to stop when the count goes down, as ECS does:
// tasks of old revisions first, then from the hosts holding the most tasks of the
// service (so what remains stays spread), then the newest. It returns the rest and the
// extras.
func pickExtras(running []state.TaskState, revID string, want specDiff, n int) (rest, extra []state.TaskState) {
	if n <= 0 {
		return running, nil // nothing to stop: no need to rank them
	}
	perHost := map[string]int{}
	for _, t := range running {
		perHost[t.Host]++
	}
	isCurrent := make(map[string]bool, len(running))
	for _, t := range running {
		isCurrent[t.ID] = current(t, revID, want)
	}
	rest = slices.Clone(running)
	for ; n > 0; n-- {
		best := 0
		for i := 1; i < len(rest); i++ {
			if stopBefore(rest[i], rest[best], isCurrent, perHost) {
				best = i
			}
		}
		t := rest[best]
		extra = append(extra, t)
		perHost[t.Host]--
		rest = slices.Delete(rest, best, best+1)
	}
	return rest, extra
}

// stopBefore orders tasks for stopping on a count decrease.
func stopBefore(a, b state.TaskState, isCurrent map[string]bool, perHost map[string]int) bool {
	if isCurrent[a.ID] != isCurrent[b.ID] {
		return !isCurrent[a.ID]
	}
	if perHost[a.Host] != perHost[b.Host] {
		return perHost[a.Host] > perHost[b.Host]
	}
	if !a.StartedAt.Equal(b.StartedAt) {
		return a.StartedAt.After(b.StartedAt)
	}
	return a.ID < b.ID
}
