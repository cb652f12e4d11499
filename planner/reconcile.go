package planner

import (
	"slices"

	"github.com/deckhq/deck/planner/state"
)

// stop is an existing task the plan stops, and why.
type stop struct {
	task   state.TaskState
	reason string
}

// buckets is the reconciler's verdict on one service, before placement and waves
// (Nomad's reconciler results, reduced to what a count-of-one-revision service needs).
type buckets struct {
	keep []state.TaskState // running, of the desired revision and spec: left alone
	// replace are running tasks of another revision (or drifted): a new task takes the
	// place of each one, within the rolling limits.
	replace []stop
	// restart are tasks that are not running: replaced at once, stopped first.
	restart []stop
	// lost are tasks on unreachable hosts: replaced elsewhere at once.
	lost []stop
	// destroy are tasks beyond the desired count: stopped, not replaced.
	destroy []stop
	// create is how many new tasks the count asks for beyond those above.
	create       int
	createReason string
	running      int // tasks running now on reachable hosts
}

// reconcile sorts a service's observed tasks into buckets against its desired revision.
// unreachable names the hosts that did not answer: their tasks could not be listed, so a
// shortfall may be theirs, and the reason for the new tasks says so.
func reconcile(tasks []state.TaskState, rev Revision, count int, unreachable []string) buckets {
	var b buckets
	var running, notRunning, lost []state.TaskState
	for _, t := range tasks {
		switch {
		case !t.HostReachable:
			lost = append(lost, t)
		case t.Running():
			running = append(running, t)
		default:
			notRunning = append(notRunning, t)
		}
	}
	b.running = len(running)
	want := newSpecDiff(rev.Task)
	overCount := countReason(len(tasks), count)

	// Too many running: stop the extras first, so no surplus task is replaced for nothing.
	if len(running) > count {
		var extra []state.TaskState
		running, extra = pickExtras(running, rev.ID, want, len(running)-count)
		for _, t := range extra {
			b.destroy = append(b.destroy, stop{t, overCount})
		}
	}
	for _, t := range running {
		if t.Revision != rev.ID {
			b.replace = append(b.replace, stop{t, newRevisionReason(t, rev.ID, want)})
			continue
		}
		if t.Spec != nil {
			if fields := want.changed(*t.Spec); len(fields) > 0 {
				b.replace = append(b.replace, stop{t, driftReason(fields)})
				continue
			}
		}
		b.keep = append(b.keep, t)
	}

	slots := count - len(running)
	for _, t := range notRunning {
		if slots > 0 {
			b.restart = append(b.restart, stop{t, notRunningReason(t)})
			slots--
		} else {
			b.destroy = append(b.destroy, stop{t, overCount})
		}
	}
	for _, t := range lost {
		if slots > 0 {
			b.lost = append(b.lost, stop{t, unreachableReason(t.Host)})
			slots--
		} else {
			b.destroy = append(b.destroy, stop{t, overCount + " (" + unreachableReason(t.Host) + ")"})
		}
	}
	if slots > 0 {
		b.create = slots
		b.createReason = countReason(len(tasks), count)
		if len(unreachable) > 0 {
			b.createReason = shortfallReason(len(tasks), count, unreachable)
		}
	}
	return b
}

// current reports whether a running task is of the desired revision and spec.
func current(t state.TaskState, revID string, want specDiff) bool {
	return t.Revision == revID && (t.Spec == nil || len(want.changed(*t.Spec)) == 0)
}

// pickExtras chooses n running tasks to stop when the count goes down, as ECS does:
// tasks of old revisions first, then from the hosts holding the most tasks of the
// service (so what remains stays spread), then the newest. It returns the rest and the
// extras.
func pickExtras(running []state.TaskState, revID string, want specDiff, n int) (rest, extra []state.TaskState) {
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
