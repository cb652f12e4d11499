package planner

import (
	"fmt"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner/state"
)

// rollout builds one service's waves, placing each wave's tasks as the wave is built: a
// wave holds the replacements the rolling limits allow and the hosts have room for. ECS
// does the same: it starts the replacements that fit, waits for them to be healthy,
// stops the old tasks they replace and goes on; when none fits, it stops tasks first,
// down to min healthy, to make room.
type rollout struct {
	c                             *computer
	p                             *placer
	svc                           manifest.ServiceSpec
	rev                           Revision
	dep                           manifest.Deployment
	count, minHealthy, maxRunning int
	kept                          int // tasks left alone: errors count new tasks after them
	placed                        int
	waves                         int
	olds                          oldQueue
	warned                        bool
	// takenOver are the old tasks that verified tasks take the places of: they serve
	// (counted in healthy) beside them until they pass, as wave 0's additions do, and stop
	// at its end.
	takenOver []state.TaskState
}

// run builds every wave. extras (restarts, lost tasks, creates) all start in wave 0;
// healthy is how many tasks serve before it (kept, those to replace, and those a verified
// task takes over).
func (r *rollout) run(extras []newTask, healthy int) error {
	additions := r.count - healthy + len(r.takenOver)
	for w := 0; w == 0 || r.olds.left > 0; w++ {
		st, stuck := nextStep(healthy, additions, r.olds.left, r.minHealthy, r.maxRunning)
		if stuck && !r.warned {
			r.c.warn("%s", stuckWarning(r.svc.Name, r.dep, r.count))
			r.warned = true
		}
		if err := r.wave(w, extras, st, healthy); err != nil {
			return err
		}
		extras = nil
		healthy, additions = r.count, 0 // the wave's tasks are healthy before the next wave
	}
	return nil
}

// wave places one wave: extras and stop-first replacements must fit (their room is what
// the plan has), surge replacements go in while they fit.
func (r *rollout) wave(w int, extras []newTask, st waveStep, healthy int) error {
	tasks := make([]newTask, 0, len(extras)+st.stopFirst+st.surge)
	tasks = append(tasks, extras...)
	for range st.stopFirst {
		tasks = append(tasks, r.olds.take("", true))
	}
	hosts, err := r.placePending(tasks, nil)
	if err != nil {
		return err
	}
	// A surge replacement that does not fit closes the wave: the olds of those that did
	// stop once the wave is healthy, and the next wave uses their room. Each takes an old
	// task on its own host, so that room is where the next wave's tasks may go too.
	for range st.surge {
		slot, ok := r.p.tryPlace()
		if !ok {
			break
		}
		host := r.c.cluster.hosts[slot].Name
		tasks = append(tasks, r.olds.take(host, false))
		hosts = append(hosts, host)
		r.placed++
	}
	if len(tasks) == 0 && r.olds.left > 0 && st.surge > 0 {
		// Not one surge replacement fits: stop olds first, as far as min healthy allows,
		// and start their replacements in their room. (A step with no surge at all is
		// one whose room wave 0's additions fill: the replacements wait for them.)
		n := min(r.olds.left, healthy-r.minHealthy)
		if n <= 0 {
			return r.noRoomError(healthy)
		}
		for range n {
			tasks = append(tasks, r.olds.take("", true))
		}
		if hosts, err = r.placePending(tasks, hosts); err != nil {
			return err
		}
	}

	for i, host := range pairByHost(tasks, hosts) {
		r.c.start(r.svc.Name, r.rev, host, tasks[i], w)
	}
	for _, nt := range tasks {
		if nt.old != nil && !nt.stopFirst {
			r.c.release(r.p, *nt.old)
		}
	}
	if w == 0 {
		// The old tasks verified tasks take over stop at the end of wave 0 too.
		for _, old := range r.takenOver {
			r.c.release(r.p, old)
		}
	}
	r.waves++
	return nil
}

// placePending places tasks[len(hosts):], all of which must fit, once their stop-first
// olds are stopped (the executor stops them before the wave's tasks start, so their room
// is usable now). It returns hosts with theirs appended.
func (r *rollout) placePending(tasks []newTask, hosts []string) ([]string, error) {
	for _, nt := range tasks[len(hosts):] {
		if nt.stopFirst {
			r.c.release(r.p, *nt.old)
		}
	}
	for range tasks[len(hosts):] {
		slot, err := r.p.place(r.kept+r.placed+1, r.count)
		if err != nil {
			return nil, err
		}
		r.placed++
		hosts = append(hosts, r.c.cluster.hosts[slot].Name)
	}
	return hosts, nil
}

func (r *rollout) noRoomError(healthy int) error {
	keeps := fmt.Sprintf("keeps all %d tasks running", healthy)
	if healthy == 1 {
		keeps = "keeps its only task running"
	}
	return fmt.Errorf("service %s: no room to start a replacement: %s; min_healthy_percent %d %s: "+
		"free capacity on the hosts, or lower deployment.min_healthy_percent so deck can stop tasks first",
		r.svc.Name, r.p.blockers(), r.dep.MinHealthyPercent, keeps)
}

// oldQueue hands out the running tasks still to replace: in reconcile's order, or the
// first one on a given host.
type oldQueue struct {
	olds   []stop
	taken  []bool
	first  int              // every old before it is taken
	byHost map[string][]int // indices into olds per host, in order; taken ones skipped lazily
	left   int
}

func newOldQueue(olds []stop) oldQueue {
	q := oldQueue{olds: olds, taken: make([]bool, len(olds)), left: len(olds)}
	if len(olds) > 0 {
		q.byHost = map[string][]int{}
		for i, s := range olds {
			q.byHost[s.task.Host] = append(q.byHost[s.task.Host], i)
		}
	}
	return q
}

// take hands out an old task to replace, on host when one is left there ("" for any),
// as a new task that replaces it. There must be one left.
func (q *oldQueue) take(host string, stopFirst bool) newTask {
	i := -1
	if ids, ok := q.byHost[host]; ok && host != "" {
		for len(ids) > 0 && i < 0 {
			if !q.taken[ids[0]] {
				i = ids[0]
			}
			ids = ids[1:]
		}
		q.byHost[host] = ids
	}
	if i < 0 {
		for q.taken[q.first] {
			q.first++
		}
		i = q.first
	}
	q.taken[i] = true
	q.left--
	s := &q.olds[i]
	return newTask{old: &s.task, reason: s.reason, stopFirst: stopFirst}
}
