package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/deckhq/deck/executor"
	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/planner"
	"github.com/deckhq/deck/providers/lock"
)

// lockBusyRetry is how soon a reconcile that found the deploy lock held is tried again.
const lockBusyRetry = 2 * time.Second

// cycle runs one reconcile and records how it went.
func (c *Controller) cycle(ctx context.Context, s *pipeline.Session, term Term, why string) {
	start := c.cfg.Now()
	err := c.reconcile(ctx, s, term, why)
	c.flushEvents(ctx, s, term)
	var held *lock.HeldError
	if errors.As(err, &held) {
		// A deploy is running: let it finish, and look again shortly.
		c.log.Info("the deploy lock is held; trying again shortly", "holder", held.Holder.String())
		c.retry.soon(lockBusyRetry)
		err = nil
	}
	c.cfg.Metrics.reconciled(c.cfg.Target.App.Name, c.cfg.Target.Env.Name, time.Since(start), err)
	c.mu.Lock()
	c.last.LastReconcile, c.last.LastError = c.cfg.Now(), ""
	if err != nil {
		c.last.LastError = err.Error()
	}
	c.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		c.log.Error("reconcile failed", "why", why, "err", err)
	}
}

// attach makes the session see the hosts as the controller does: last-seen tasks of hosts
// that stopped answering, hosts in grace, and health judged by the probes' streaks.
func (c *Controller) attach(s *pipeline.Session) {
	s.Amend = func(s *pipeline.Session) {
		c.hosts.amend(s)
		c.probe.amend(s)
	}
	if s.Snap != nil {
		// The first read happened before Amend was set: what it saw is recorded now.
		c.hosts.amend(s)
	}
}

// reconcile runs the deploy pipeline in Heal mode once: what should run comes from the
// hosts; the tasks of services waiting out a retry delay are left as they are in this run
// (their routes still follow the tasks that serve).
func (c *Controller) reconcile(ctx context.Context, s *pipeline.Session, term Term, why string) error {
	d := pipeline.Deploy{Target: c.cfg.Target, Session: s, Heal: true, Partial: true,
		Desired: c.desired, Lock: c.locker(term), Events: c.executorEvent, Log: c.evlog,
		Planned: func(p *planner.Plan) error { c.logPlan(p, why); return nil }}
	out, err := d.Run(ctx)
	for svc, ev := range c.crash.loops {
		c.record(ctx, s, term, svc, ev) // deck status shows the loop, not the last steady state
		delete(c.crash.loops, svc)
	}
	for svc, rc := range c.crash.rollback {
		delete(c.crash.rollback, svc)
		if term == nil || term.Check() == nil {
			c.rollbackAfterDeploy(ctx, s, term, rc)
		}
	}
	if out != nil && out.Session != nil && out.Session.Snap != nil {
		c.cfg.Metrics.observe(c.cfg.Target.App.Name, c.cfg.Target.Env.Name, out.Session, c.services)
	}
	if out == nil || out.Result == nil {
		return err
	}
	c.confirmCrashes(out.Result)
	c.afterApply(ctx, s, term, out.Result)
	return err
}

// desired is what should run, read back from the hosts, with the services waiting out a
// retry delay held: their tasks are left alone, but a task of theirs that died is still
// taken out of the load balancers at once, as ECS deregisters a stopped task whatever its
// service's launch back-off.
func (c *Controller) desired(ctx context.Context, s *pipeline.Session) (*pipeline.Resolved, error) {
	if !c.cache.Fresh(s) {
		c.cache.Invalidate()
	}
	res, skipped, err := pipeline.FromHosts(ctx, s, c.cache)
	if err != nil {
		return nil, err
	}
	c.noteSkipped(skipped)
	c.noteCrashes(s, res)
	c.services = c.services[:0]
	for _, d := range res.Desired {
		c.services = append(c.services, d.Service)
	}
	for i, d := range res.Desired {
		if wait := c.retry.waiting(d.Service.Name); wait > 0 {
			c.log.Debug("service waits before its failed tasks are tried again", "service", d.Service.Name, "for", wait.Round(time.Second))
			res.Desired[i].Hold = true
		}
	}
	return res, nil
}

// locker takes the deploy lock for a reconcile's changes, once the leader lease is
// checked; the lease it returns fails its Check as soon as either is lost.
func (c *Controller) locker(term Term) func(ctx context.Context, s *pipeline.Session) (pipeline.Lease, error) {
	return func(ctx context.Context, s *pipeline.Session) (pipeline.Lease, error) {
		if term != nil {
			if err := term.Check(); err != nil {
				return nil, fmt.Errorf("%w: %v", errLost, err)
			}
		}
		l, err := c.cfg.Lock(ctx, s)
		if err != nil {
			return nil, err
		}
		s.SetEpoch(l.Epoch())
		return fencedLease{Lease: l, term: term}, nil
	}
}

// fencedLease is the deploy lock, also lost when the leader lease is.
type fencedLease struct {
	pipeline.Lease
	term Term
}

// Previous passes on who held the deploy lock before, for the lock-taken event.
func (f fencedLease) Previous() *lock.Previous {
	if p, ok := f.Lease.(interface{ Previous() *lock.Previous }); ok {
		return p.Previous()
	}
	return nil
}

func (f fencedLease) Check() error {
	if f.term != nil {
		if err := f.term.Check(); err != nil {
			return fmt.Errorf("%w: %v", errLost, err)
		}
	}
	return f.Lease.Check()
}

// afterApply counts placements and failures and moves each service's retry delay.
func (c *Controller) afterApply(ctx context.Context, s *pipeline.Session, term Term, res *executor.Result) {
	app, env := c.cfg.Target.App.Name, c.cfg.Target.Env.Name
	for _, sr := range res.Services {
		c.ownDoing(sr.StoppedIDs...)
		c.cfg.Metrics.placed(app, env, sr.Name, len(sr.Created))
		if sr.Err == nil && c.retry.waiting(sr.Name) > 0 {
			continue // held: nothing of it was tried, so nothing succeeded
		}
		if sr.Err == nil {
			if c.retry.succeeded(sr.Name) {
				msg := fmt.Sprintf("(service %s) has reached a steady state.", sr.Name)
				c.record(ctx, s, term, sr.Name, pipeline.ServiceEvent{Message: msg})
			}
			if len(sr.Created) > 0 || sr.Stopped > 0 {
				c.log.Info(fmt.Sprintf("(service %s) has reached a steady state.", sr.Name), "service", sr.Name,
					"started", len(sr.Created), "stopped", sr.Stopped)
			}
			continue
		}
		c.cfg.Metrics.failed(app, env, sr.Name, max(len(executor.Failures(sr.Err)), 1))
		n, wait := c.retry.failed(sr.Name)
		msg := fmt.Sprintf("(service %s) failed to start tasks: %s", sr.Name, firstLine(sr.Err))
		if n >= 2 {
			msg = fmt.Sprintf("(service %s) is unable to consistently start tasks successfully.", sr.Name)
		}
		reason := stopReason(sr.Err)
		c.log.Warn(msg, "service", sr.Name, "failures", n, "retry_in", wait.Round(time.Second).String(), "reason", reason)
		c.evlog.Add(pipeline.LogEvent{Kind: pipeline.KindBackoff, Service: sr.Name,
			Message: fmt.Sprintf("%s Last failure: %s. Tried again in %s.", msg, reason, wait.Round(time.Second))})
		c.record(ctx, s, term, sr.Name, pipeline.ServiceEvent{Message: msg, Reason: reason, Failures: n})
	}
}

// flushEvents writes what the reconcile did to the event log, while this controller still
// leads: one batch a reconcile, none when it did nothing.
func (c *Controller) flushEvents(ctx context.Context, s *pipeline.Session, term Term) {
	if c.evlog.Pending() == 0 || (term != nil && term.Check() != nil) {
		return
	}
	if err := c.evlog.Flush(ctx, s); err != nil {
		c.log.Warn("recording events", "err", err)
	}
}

// record keeps a service's event on the hosts for deck status, while this controller
// still leads.
func (c *Controller) record(ctx context.Context, s *pipeline.Session, term Term, service string, ev pipeline.ServiceEvent) {
	if term != nil && term.Check() != nil {
		return
	}
	ev.Time = c.cfg.Now()
	if err := pipeline.WriteServiceEvent(ctx, s, service, ev); err != nil {
		c.log.Warn("recording the service's event", "service", service, "err", err)
	}
}

// executorEvent logs what the executor does, one structured line per step.
func (c *Controller) executorEvent(e executor.Event) {
	switch e.Kind {
	case executor.EventTaskHealthy, executor.EventTaskFailed, executor.EventTaskStopped, executor.EventRoute,
		executor.EventTaskLeft, executor.EventBreaker, executor.EventRetry, executor.EventImageLoad:
		c.log.Info(string(e.Kind), "service", e.Service, "host", e.Host, "task", e.TaskID, "detail", e.Message)
	}
}

// logPlan logs each change a reconcile is about to make, with why it runs.
func (c *Controller) logPlan(p *planner.Plan, why string) {
	if p.Empty() {
		return
	}
	for _, ch := range p.Changes {
		c.log.Info("plan", "why", why, "service", ch.Service, "change", strings.TrimSpace(planner.DescribeChange(ch)))
	}
}

// stopReason is why the last new task failed: a tripped breaker's last failure, else the
// error's first line.
func stopReason(err error) string {
	var be *executor.BreakerError
	if errors.As(err, &be) && len(be.Failed) > 0 {
		return firstLine(be.Failed[len(be.Failed)-1])
	}
	return firstLine(err)
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// noteSkipped logs, and puts in the event log, each service left alone because it has no
// revision to run, once when it starts being left alone: without it, a service whose
// first deploy failed sat at 0 tasks with nothing said after its last retry.
func (c *Controller) noteSkipped(skipped []pipeline.Skipped) {
	now := map[string]bool{}
	for _, sk := range skipped {
		now[sk.Why] = true
		if !c.skipped[sk.Why] {
			c.log.Warn(sk.Why, "service", sk.Service)
			c.evlog.Add(pipeline.LogEvent{Kind: pipeline.KindLeftAlone, Service: sk.Service, Message: sk.Why})
		}
	}
	c.skipped = now
}

// ownDoing notes containers ("host/id") this controller stopped or removed, so their
// events are not taken for news; notes older than a minute are dropped (their events
// have long arrived).
func (c *Controller) ownDoing(ids ...string) {
	if c.own == nil {
		c.own = map[string]time.Time{}
	}
	now := c.cfg.Now()
	for id, at := range c.own {
		if now.Sub(at) > time.Minute {
			delete(c.own, id)
		}
	}
	for _, id := range ids {
		c.own[id] = now
	}
}
