package planner

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner/state"
)

// ErrCapacityUnknown is returned when the plan would place tasks and a host's capacity was
// not read: the caller reads it (providers.ReadCapacity) and computes again. A plan that
// places nothing never needs it.
var ErrCapacityUnknown = errors.New("the plan places tasks and some hosts' capacity was not read")

// Options tune Compute.
type Options struct {
	// NewTaskID makes the id of a new task. Default: 8 random hex characters.
	NewTaskID func() string
	// Delete names services to remove entirely (deck delete SERVICE): all their tasks stop.
	Delete []string
	// Partial says desired covers only some of the app's services (deck delete plans one
	// service): services missing from it are not warned about.
	Partial bool
	// Grace names unreachable hosts that are still within their grace period (the
	// controller's host_grace): their tasks, as last seen, hold their places and nothing
	// is done about them yet. Hosts not named are lost at once, as a deploy treats them.
	Grace []string
	// GraceUnknown says a host in grace was never listed (what it runs is unknown): a
	// shortfall may be its tasks, so none is made up until its grace ends.
	GraceUnknown bool
	// Jobs is what the hosts recorded of the Scheduled Jobs deck deployed, by name: a job
	// is planned only where it differs (see planJob). Now is the time a job that has not
	// run yet counts its first run from (zero: the plan names no next run for it).
	Jobs map[string]JobRecord
	Now  time.Time
	// HoldRoutedWhenBalancerDown leaves the services with a route as they are, and plans
	// the others, when a load balancer cannot be read (the controller: an outage of the
	// balancer's host must not stop the healing of services it does not route). Without
	// it such a plan fails: a deploy changes nothing until it reaches every balancer.
	HoldRoutedWhenBalancerDown bool
}

// Compute works out the plan that takes the hosts in snap to the desired services. It is
// pure: it reads the snapshot and returns data. It fails rather than return a partial
// plan when a task cannot be placed.
//
// Services are planned in name order against one account of host resources, deleted
// services first (their stopped tasks free room for the others).
func Compute(desired []Desired, snap *state.Snapshot, opts Options) (*Plan, error) {
	c := &computer{snap: snap, newID: opts.NewTaskID, grace: map[string]bool{},
		graceUnknown: opts.GraceUnknown, jobs: opts.Jobs, now: opts.Now}
	for _, h := range opts.Grace {
		c.grace[h] = true
	}
	if c.newID == nil {
		c.newID = randomTaskID
	}
	if err := checkInput(desired, opts.Delete); err != nil {
		return nil, err
	}

	// The tasks are read from the snapshot where they are needed (a service's through
	// its index, the task ids only when a task is started), not copied out all at once:
	// at thousands of tasks those copies were most of what a steady reconcile allocated.
	c.cluster = newCluster(snap.Hosts(), snap.EachTask())
	c.plan = &Plan{FormatVersion: FormatVersion, App: snap.App(), Env: snap.Env(),
		Fingerprint: snap.Fingerprint(), Revisions: map[string]Revision{}}

	for _, h := range snap.UnreachableHosts() {
		if c.grace[h.Name] {
			c.warn("host %s is unreachable (%s): within its grace period, its tasks are left as they were", h.Name, h.Err)
			continue
		}
		c.unreachable = append(c.unreachable, h.Name)
		c.warn("host %s is unreachable (%s): its tasks are counted as lost", h.Name, h.Err)
	}
	deletes := slices.Clone(opts.Delete)
	slices.Sort(deletes)
	for _, name := range deletes {
		c.deleteService(name)
	}
	desired = slices.Clone(desired)
	slices.SortFunc(desired, func(a, b Desired) int { return cmp.Compare(a.Service.Name, b.Service.Name) })
	routesReadable := true
	if opts.HoldRoutedWhenBalancerDown && len(deletes) == 0 {
		desired, routesReadable = c.holdRouted(desired)
	}
	for _, d := range desired {
		if err := c.planService(d); err != nil {
			if c.cluster.capacityWanted {
				return nil, ErrCapacityUnknown
			}
			return nil, err
		}
	}
	if c.cluster.capacityWanted {
		return nil, ErrCapacityUnknown
	}
	if routesReadable {
		if err := c.planRoutes(desired, deletes, opts.Partial); err != nil {
			return nil, err
		}
	}
	if !opts.Partial {
		c.warnUnmanaged(desired, deletes)
	}
	slices.SortFunc(c.plan.Services, func(a, b ServicePlan) int { return cmp.Compare(a.Name, b.Name) })
	sortChanges(c.plan.Changes)
	return c.plan, nil
}

func checkInput(desired []Desired, deletes []string) error {
	seen := map[string]bool{}
	for _, d := range desired {
		name := d.Service.Name
		switch {
		case name == "":
			return fmt.Errorf("a desired service has no name")
		case seen[name]:
			return fmt.Errorf("service %s is desired twice", name)
		case d.Revision.ID == "":
			return fmt.Errorf("service %s: the desired revision has no id (make it with NewRevision)", name)
		case d.Service.Count.Value < 0:
			return fmt.Errorf("service %s: count %d is negative", name, d.Service.Count.Value)
		}
		seen[name] = true
	}
	for _, name := range deletes {
		if seen[name] {
			return fmt.Errorf("service %s is both in the manifests and to be deleted; remove its manifest first", name)
		}
	}
	return nil
}

// computer holds one Compute call's working state.
type computer struct {
	snap  *state.Snapshot
	newID func() string
	// usedIDs are the task ids on the hosts and in this plan; nil until a task is started.
	usedIDs map[string]bool
	cluster *cluster
	plan    *Plan
	// unreachable are the hosts that did not answer, in environment order, but for
	// those within their grace period (grace).
	unreachable  []string
	grace        map[string]bool
	graceUnknown bool
	jobs         map[string]JobRecord
	now          time.Time
}

func (c *computer) warn(format string, args ...any) {
	c.plan.Warnings = append(c.plan.Warnings, fmt.Sprintf(format, args...))
}

// tasksOf returns a service's tasks (containers labelled with its name), sorted by id.
func (c *computer) tasksOf(service string) []state.TaskState {
	if service == "" {
		// The service index leaves out tasks with no service: look for them by hand.
		var out []state.TaskState
		for t := range c.snap.EachTask() {
			if t.Service == "" {
				out = append(out, t)
			}
		}
		return out
	}
	return c.snap.TasksByService(service)
}

// hasTasks reports whether any task is labelled with the service's name.
func (c *computer) hasTasks(service string) bool {
	if service == "" {
		return len(c.tasksOf(service)) > 0
	}
	for range c.snap.EachTaskOf(service) {
		return true
	}
	return false
}

func (c *computer) deleteService(name string) {
	tasks := c.tasksOf(name)
	sp := ServicePlan{Name: name, Delete: true, Deployment: effectiveDeployment(manifest.Deployment{})}
	for _, t := range tasks {
		if t.Running() && t.HostReachable {
			sp.Running++
		}
		c.destroy(t, Reason{Code: ReasonServiceDeleted})
	}
	if _, isJob := c.jobs[name]; isJob {
		// Recorded as gone even when it has no run to stop, so the controller stops
		// starting it.
		sp.Type = manifest.ScheduledJob
		c.plan.Changes = append(c.plan.Changes, Change{Action: Destroy, Kind: KindJob, Service: name,
			Reason: Reason{Code: ReasonServiceDeleted}})
	}
	if len(tasks) > 0 || sp.Type == manifest.ScheduledJob {
		sp.Waves = 1
	}
	c.plan.Services = append(c.plan.Services, sp)
}

// destroy stops a task for good, in wave 0 and before anything starts (as ECS stops the
// extra tasks of a scale-in right away).
func (c *computer) destroy(t state.TaskState, reason Reason) {
	c.cluster.releaseTask(t)
	old := taskRef(t)
	c.plan.Changes = append(c.plan.Changes, Change{Action: Destroy, Kind: KindTask, Service: t.Service,
		Old: &old, Reason: reason, Wave: 0, StopFirst: true})
}

func taskRef(t state.TaskState) TaskRef {
	ref := TaskRef{Host: t.Host, TaskID: t.TaskID, ContainerID: t.ContainerID, Revision: t.Revision,
		Address: t.Address(t.HostAddress)}
	if t.Spec != nil {
		ref.StopTimeout = t.Spec.StopTimeout // stop the old task as its own revision asked
	}
	return ref
}

// newTask is a task the plan starts: from scratch, or in place of old.
type newTask struct {
	old       *state.TaskState
	reason    Reason
	stopFirst bool
}

func (c *computer) planService(d Desired) error {
	if d.Service.Type == manifest.ScheduledJob {
		if d.Hold {
			return nil // a job has no route: nothing of it changes
		}
		return c.planJob(d) // a schedule, not a count (jobs.go)
	}
	svc, rev := d.Service, d.Revision
	count := svc.Count.Value
	dep := effectiveDeployment(svc.Deployment)
	b := reconcile(serviceTasks(c.tasksOf(svc.Name)), rev, count, c.unreachable, c.grace, c.graceUnknown)
	if d.Hold {
		c.plan.Services = append(c.plan.Services, ServicePlan{Name: svc.Name, Type: svc.Type, Revision: rev.ID,
			Desired: count, Running: b.running, Keep: b.running, Deployment: dep, HTTP: svc.HTTP, Hold: true})
		return nil
	}

	placed := b.keep // newPlacer only reads it
	if len(b.verify) > 0 {
		placed = slices.Clone(b.keep)
		for _, v := range b.verify {
			placed = append(placed, v.task) // it runs where it runs: spread around it
		}
	}
	// A task that runs but fails its health checks may be its host's doing (ports that do
	// not answer, a full disk): its replacement goes elsewhere while another host fits. One
	// that exited is more often the app's (a crash, an OOM kill, a host restart that ended
	// every container) and is placed as usual.
	var failed []string
	for _, s := range b.restart {
		if s.reason.Code == ReasonUnhealthy {
			failed = append(failed, s.task.Host)
		}
	}
	p, err := newPlacer(c.cluster, svc, rev.Task, placed, failed...)
	if err != nil {
		return err
	}
	minHealthy, maxRunning := rollingLimits(dep, count)

	// Wave 0 begins with what starts at once: tasks that do not run and lost tasks are
	// replaced, and the count is made up.
	extras := make([]newTask, 0, len(b.restart)+len(b.lost)+b.create)
	for _, s := range b.restart {
		extras = append(extras, newTask{old: &s.task, reason: s.reason, stopFirst: true})
	}
	for _, s := range b.lost {
		extras = append(extras, newTask{old: &s.task, reason: s.reason})
	}
	for range b.create {
		extras = append(extras, newTask{reason: b.createReason})
	}
	for _, s := range b.destroy {
		c.destroy(s.task, s.reason)
		if i, ok := c.cluster.byName[s.task.Host]; ok {
			p.freed(i)
		}
	}
	for _, s := range b.verify {
		c.verify(svc.Name, rev, s)
	}
	r := rollout{c: c, p: p, svc: svc, rev: rev, dep: dep, count: count, minHealthy: minHealthy,
		maxRunning: maxRunning, kept: len(b.keep) + len(b.verify), olds: newOldQueue(b.replace)}
	// What serves now: the kept tasks, the old ones to replace, and those a verified task
	// takes over (they serve until it passes, while it runs beside them).
	for _, v := range b.verify {
		if v.old != nil {
			r.takenOver = append(r.takenOver, *v.old)
		}
	}
	if err := r.run(extras, len(b.keep)+len(b.replace)+len(r.takenOver)); err != nil {
		return err
	}

	sp := ServicePlan{Name: svc.Name, Type: svc.Type, Revision: rev.ID, Desired: count, Running: b.running,
		Keep: len(b.keep), Deployment: dep, HTTP: svc.HTTP, BreakerThreshold: dep.CircuitBreaker.BreakerThreshold(count)}
	if len(b.destroy) > 0 || len(b.verify) > 0 || r.placed > 0 {
		sp.Waves = max(r.waves, 1)
	}
	c.plan.Services = append(c.plan.Services, sp)
	return nil
}

// pairByHost gives each new task of a wave one of the hosts placed for the wave, and
// gives a replacement its old task's host when one was placed there: the placements are
// the same, but "~ task a on h1 -> b on h1" reads better than a reshuffle across hosts.
func pairByHost(tasks []newTask, hosts []string) []string {
	out := make([]string, len(tasks))
	free := make([]bool, len(hosts))
	for i := range free {
		free[i] = true
	}
	for i, nt := range tasks {
		if nt.old == nil {
			continue
		}
		for j, h := range hosts {
			if free[j] && h == nt.old.Host {
				out[i], free[j] = h, false
				break
			}
		}
	}
	next := 0
	for i := range tasks {
		if out[i] != "" {
			continue
		}
		for !free[next] {
			next++
		}
		out[i], free[next] = hosts[next], false
	}
	return out
}

func (c *computer) release(p *placer, t state.TaskState) {
	if i, ok := c.cluster.releaseTask(t); ok {
		p.freed(i)
	}
}

// verify waits, in wave 0, for a task of the desired revision that deck has not seen
// healthy. Its resources are already taken (it runs), so nothing is placed. One that takes
// an old task's place stops that task once it passes, as a replacement does.
func (c *computer) verify(service string, rev Revision, s stop) {
	c.plan.Revisions[rev.ID] = rev
	ch := Change{Action: Verify, Kind: KindTask, Service: service,
		Host: s.task.Host, TaskID: s.task.TaskID, Existing: s.task.ContainerID, Revision: rev.ID,
		Reason: s.reason, Wave: 0}
	if s.old != nil {
		// It takes the place of a serving old task, which stops once it has passed.
		old := taskRef(*s.old)
		ch.Old = &old
	}
	c.plan.Changes = append(c.plan.Changes, ch)
}

func (c *computer) start(service string, rev Revision, host string, nt newTask, wave int) {
	c.plan.Revisions[rev.ID] = rev
	ch := Change{Action: Create, Kind: KindTask, Service: service, Host: host, TaskID: c.taskID(),
		Revision: rev.ID, Reason: nt.reason, Wave: wave, StopFirst: nt.stopFirst}
	if nt.old != nil {
		old := taskRef(*nt.old)
		ch.Action, ch.Old = Replace, &old
	}
	c.plan.Changes = append(c.plan.Changes, ch)
}

// taskID makes a task id unused on the hosts and in this plan.
func (c *computer) taskID() string {
	if c.usedIDs == nil {
		c.usedIDs = map[string]bool{}
		for t := range c.snap.EachTask() {
			c.usedIDs[t.TaskID] = true
		}
	}
	for {
		id := c.newID()
		if !c.usedIDs[id] {
			c.usedIDs[id] = true
			return id
		}
	}
}

func randomTaskID() string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("planner: no randomness: " + err.Error()) // crypto/rand does not fail on supported systems
	}
	return hex.EncodeToString(b[:])
}

func (c *computer) warnUnmanaged(desired []Desired, deletes []string) {
	known := map[string]bool{}
	for _, d := range desired {
		known[d.Service.Name] = true
	}
	for _, n := range deletes {
		known[n] = true
	}
	for _, name := range c.snap.Services() {
		if !known[name] {
			c.warn("service %s runs but has no manifest; deck delete %s removes it", name, name)
		}
	}
}

// sortChanges orders changes by service, wave, action, host and task id, so the same
// inputs always give the same plan.
func sortChanges(cs []Change) {
	sort.SliceStable(cs, func(i, j int) bool {
		a, b := cs[i], cs[j]
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		if a.Wave != b.Wave {
			return a.Wave < b.Wave
		}
		if a.Action != b.Action {
			return a.Action < b.Action
		}
		if ha, hb := a.where(), b.where(); ha != hb {
			return ha < hb
		}
		return a.id() < b.id()
	})
}

// where is the host a change acts on: the new task's, or the stopped task's.
func (c Change) where() string {
	if c.Host != "" {
		return c.Host
	}
	if c.Old != nil {
		return c.Old.Host
	}
	return ""
}

func (c Change) id() string {
	if c.TaskID != "" {
		return c.TaskID
	}
	if c.Old != nil {
		return c.Old.TaskID + "\x00" + c.Old.ContainerID
	}
	return ""
}
