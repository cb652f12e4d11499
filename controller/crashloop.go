package controller

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/deckhq/deck/executor"
	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/providers/history"
)

// A task that passes its health checks and then exits soon after is replaced, passes,
// and exits again: without a pause the controller would replace it every few seconds for
// ever, taking the deploy lock and filling the event log each time. Such exits count as a
// crash loop: the first is replaced at once, each next one after the back-off's delay
// (5s, then twice as long, up to 5 minutes), until the service's tasks have gone
// crashReset without exiting early. The exited container stays meanwhile, with its logs.
// An exit counts once this controller replaces it under the deploy lock: a task a
// deploy's rollout stops and removes is no crash, even when a read catches it in between.

// crashWindow is how soon after it started a service's task must exit to count as a crash.
const crashWindow = time.Minute

// crashReset is how long a service goes without a crash before its streak starts over.
const crashReset = 10 * time.Minute

// crashes is each service's streak of early exits.
type crashes struct {
	counted map[string]time.Time // service -> when the newest exit looked at ended
	streak  map[string]int       // service -> crashes in a row, as confirmed
	last    map[string]time.Time // service -> when the newest confirmed crash ended
	// pending are the early exits seen before the lock ("host/container" -> service and
	// end): each is a crash once this controller replaces it under the deploy lock. One
	// that is gone by then was stopped and removed by another actor (a deploy's rollout
	// stops a task and removes it a moment later: a read in between sees it exited), and
	// is no crash.
	pending map[string]pendingCrash
	// loops are the crash-loop messages of this reconcile, by service: recorded for deck
	// status once the reconcile ran (noteCrashes has no leadership term to check).
	loops map[string]pipeline.ServiceEvent
	// rollback are the services whose crash loop may call for a rollback of the revision a
	// deploy has just completed (rollbackAfterDeploy), with the crashes in a row.
	rollback map[string]rollbackCandidate
}

type rollbackCandidate struct {
	svc     manifest.ServiceSpec
	crashes int
}

// crashesToRollBack is how many crashes in a row of a revision a deploy completed less
// than crashReset ago make the controller roll it back (ECS's smallest breaker threshold).
const crashesToRollBack = 3

type pendingCrash struct {
	service string
	ended   time.Time
}

func newCrashes() *crashes {
	return &crashes{counted: map[string]time.Time{}, streak: map[string]int{}, last: map[string]time.Time{},
		pending: map[string]pendingCrash{}, loops: map[string]pipeline.ServiceEvent{}, rollback: map[string]rollbackCandidate{}}
}

// noteCrashes looks at the service tasks of the session's last read that exited within
// crashWindow of starting and were not looked at yet, and holds a service whose exit would
// make a crash loop back for the back-off's delay. Only tasks of the revision the service
// should run count: one of another revision ended because a rollout stopped it. An exit
// counts for the streak once this controller replaces it (confirmCrashes).
func (c *Controller) noteCrashes(s *pipeline.Session, res *pipeline.Resolved) {
	now := c.cfg.Now()
	want := make(map[string]string, len(res.Desired))
	specs := make(map[string]manifest.ServiceSpec, len(res.Desired))
	for _, d := range res.Desired {
		want[d.Service.Name] = d.Revision.ID
		specs[d.Service.Name] = d.Service
	}
	type crash struct {
		task, detail string
		ended        time.Time
	}
	newest := map[string]crash{}
	for t := range s.Snap.EachTask() {
		if t.Meta.Kind != "" || !t.HostReachable || t.Running() || t.StartedAt.IsZero() || t.FinishedAt.IsZero() {
			continue
		}
		if rev, ok := want[t.Service]; !ok || t.Revision != rev {
			continue
		}
		ran := t.FinishedAt.Sub(t.StartedAt)
		if ran < 0 || ran >= crashWindow || !t.FinishedAt.After(c.crash.counted[t.Service]) {
			continue
		}
		c.crash.pending[t.ID] = pendingCrash{service: t.Service, ended: t.FinishedAt}
		if cur, ok := newest[t.Service]; !ok || t.FinishedAt.After(cur.ended) {
			newest[t.Service] = crash{task: t.TaskID, ended: t.FinishedAt,
				detail: fmt.Sprintf("exited with code %d after %s", t.ExitCode, ran.Round(100*time.Millisecond))}
		}
	}
	for id, p := range c.crash.pending {
		if now.Sub(p.ended) > crashReset {
			delete(c.crash.pending, id) // never replaced by this controller
		}
	}
	for svc, cr := range newest {
		c.crash.counted[svc] = cr.ended
		if last := c.crash.last[svc]; !last.IsZero() && cr.ended.Sub(last) >= crashReset {
			c.crash.streak[svc] = 0
		}
		n := c.crash.streak[svc] + 1 // with this one
		if n < 2 {
			continue // the first early exit is replaced at once
		}
		wait := c.retry.hold(svc, n-1)
		msg := fmt.Sprintf("(service %s) is in a crash loop: its tasks exited within %s of starting %d times in a row (task %s %s); the next replacement starts in %s.",
			svc, crashWindow, n, cr.task, cr.detail, wait.Round(time.Second))
		c.log.Warn(msg, "service", svc, "crashes", n, "retry_in", wait.Round(time.Second).String())
		c.evlog.Add(pipeline.LogEvent{Time: now, Kind: pipeline.KindBackoff, Service: svc, Message: msg})
		c.crash.loops[svc] = pipeline.ServiceEvent{Message: fmt.Sprintf("(service %s) is in a crash loop: its tasks exited within %s of starting %d times in a row.", svc, crashWindow, n),
			Reason: "task " + cr.task + " " + cr.detail, Failures: n}
		if spec := specs[svc]; n >= crashesToRollBack && spec.Deployment.CircuitBreaker.Rollback {
			c.crash.rollback[svc] = rollbackCandidate{svc: spec, crashes: n}
		}
	}
}

// rollbackAfterDeploy rolls a crash-looping service back to its previous completed
// revision when the revision it runs is one a deploy completed less than crashReset ago,
// and its circuit breaker rolls back. The breaker watches a rollout while it runs; tasks
// that pass their checks and crash seconds after it ended left the service down, with
// nothing to take it back (as the deployment alarms of ECS would). A revision deck
// rolled back to is never rolled back from: a crash that is not the revision's own (a
// database that is down) does not make the service go back and forth.
func (c *Controller) rollbackAfterDeploy(ctx context.Context, s *pipeline.Session, term Term, rc rollbackCandidate) {
	svc := rc.svc.Name
	from, to, ok := s.JustDeployed(ctx, svc, crashReset, c.cfg.Now())
	if !ok {
		return
	}
	t := c.cfg.Target
	t.Services = []manifest.ServiceSpec{rc.svc}
	host, _ := os.Hostname()
	d := pipeline.Deploy{Target: t, Partial: true, Lock: c.locker(term), Events: c.executorEvent, Log: c.evlog,
		Rollback: &pipeline.RollbackTarget{Service: svc, To: to},
		Meta: func() history.Meta {
			return history.Meta{Who: "controller@" + host, Where: host,
				Trigger: fmt.Sprintf("deck controller: revision %d crashed after its deploy", from)}
		}}
	out, err := d.Run(ctx)
	if out != nil && out.Session != nil {
		out.Session.Close()
	}
	if err != nil {
		c.log.Warn("rolling back a revision that crashes after its deploy", "service", svc, "from", from, "to", to, "err", err)
		c.evlog.Add(pipeline.LogEvent{Kind: pipeline.KindBackoff, Service: svc,
			Message: fmt.Sprintf("(service %s) could not be rolled back to revision %d: %s", svc, to, firstLine(err))})
		return
	}
	c.retry.succeeded(svc)
	c.crash.streak[svc] = 0
	msg := fmt.Sprintf("(service %s) was rolled back to revision %d: the tasks of revision %d exited within %s of starting %d times in a row after its deploy completed.",
		svc, to, from, crashWindow, rc.crashes)
	c.log.Warn(msg, "service", svc, "from", from, "to", to)
	c.evlog.Add(pipeline.LogEvent{Kind: pipeline.KindDeployRolledBack, Service: svc, Message: msg})
	c.record(ctx, s, term, svc, pipeline.ServiceEvent{Message: msg})
}

// confirmCrashes counts the early exits this controller has just replaced: one a service
// for each reconcile that replaced any, as each took one look.
func (c *Controller) confirmCrashes(res *executor.Result) {
	for _, sr := range res.Services {
		var ended time.Time
		for _, id := range sr.StoppedIDs {
			if p, ok := c.crash.pending[id]; ok && p.service == sr.Name {
				delete(c.crash.pending, id)
				if p.ended.After(ended) {
					ended = p.ended
				}
			}
		}
		if !ended.IsZero() {
			c.crash.streak[sr.Name]++
			c.crash.last[sr.Name] = ended
		}
	}
}
