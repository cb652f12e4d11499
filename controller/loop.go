package controller

import (
	"context"
	"fmt"
	"time"

	"github.com/deckhq/deck/pipeline"
)

// balancerCheck is how often the load balancers' routes are read between reconciles.
const balancerCheck = time.Second

// debounce gathers the triggers that arrive together (a host's tasks dying at once) into
// one reconcile.
const debounce = 25 * time.Millisecond

// lead keeps the services running for one term: it reads the hosts once, follows their
// events, probes the tasks' health, and reconciles on each trigger, on the resync tick and
// when a retry or a host's grace comes due. It returns when the term or ctx ends.
func (c *Controller) lead(ctx context.Context, term Term) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var lost <-chan struct{}
	var epoch uint64
	if term != nil {
		lost, epoch = term.Lost(), term.Epoch()
	}
	c.setLeading(true, epoch)
	// A term starts from the hosts, not from what an earlier term of this controller
	// learnt: while it stood by, hosts went down and came back, tasks came and went, and
	// another leader's failures and backoffs happened (a host down in the earlier term
	// would get no grace now). The samplers and scalers of that term ran on its session.
	c.hosts = newHostBook(c.cfg.HostGrace, c.cfg.Now)
	c.retry = newBackoff(c.cfg.RetryDelay, c.cfg.MaxRetryDelay, c.cfg.Now)
	c.probe = newHealthTracker(c.cfg.Now, c.evlog)
	c.crash = newCrashes()
	c.scale = newScaling()
	c.jobList, c.jobsRead = nil, time.Time{}
	c.own = map[string]time.Time{}
	c.log.Info("leading", "epoch", epoch)
	s, err := pipeline.Open(ctx, c.cfg.Target) // the first reconcile reads the hosts
	if err != nil {
		return err
	}
	defer s.Close()
	c.attach(s)
	events := make(chan Event, 256)
	if c.cfg.Watch != nil {
		// A host that did not answer now is dialled again once its watcher reaches it,
		// not by every read meanwhile.
		for _, ho := range s.Obs.Hosts {
			if !ho.Reachable {
				c.hosts.down(ho.Spec.Name, time.Time{})
			}
		}
		for _, h := range c.cfg.Target.Env.Hosts {
			go c.cfg.Watch(ctx, h, events)
		}
	}
	trigger := make(chan string, 1)
	go c.probe.run(ctx, func(why string) { poke(trigger, why) })
	resync := time.NewTicker(c.cfg.Resync)
	defer resync.Stop()
	jobs := time.NewTicker(jobTick)
	defer jobs.Stop()
	scale := time.NewTicker(scaleTick)
	defer scale.Stop()
	// A balancer that restarts comes back empty (hosts.sh lb-restart, a crash, an
	// upgrade) and sends no event: its routes are read every balancerCheck, so they are
	// restored within about that, not at the next resync.
	var balancers <-chan time.Time
	if len(c.cfg.Target.Env.LoadBalancers) > 0 {
		t := time.NewTicker(balancerCheck)
		defer t.Stop()
		balancers = t.C
	}
	why := "start"
	for first := true; ; first = false {
		if why != "" {
			c.beforeCycle(s)
			c.cycle(ctx, s, term, why)
			if first {
				c.log.Info("first reconcile done: following the hosts", "hosts", len(c.cfg.Target.Env.Hosts))
			}
			c.jobCycle(ctx, s, term)
			c.probe.update(s)
			c.updateScaling(ctx, s, term)
			why = ""
		}
		wait, waiting := c.nextDue()
		dueAt := c.cfg.Now().Add(wait)
		due := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			due.Stop()
			return ctx.Err()
		case <-lost:
			due.Stop()
			return termError(term)
		case e := <-events:
			why = c.onEvent(e)
		case why = <-trigger:
		case <-resync.C:
			c.cache.Invalidate()
			why = "resync"
		case <-due.C:
			why = "retry or grace due"
		case <-jobs.C:
			c.jobCycle(ctx, s, term)
		case <-scale.C:
			if c.autoscale(ctx, s) {
				why = "autoscaled"
			}
		case <-balancers:
			if s.BalancersDrifted(ctx) {
				why = "a load balancer's routes changed"
			}
		}
		due.Stop()
		// select takes one ready case at random: a job or scaling tick can be taken just
		// as a retry or a host's grace comes due, and nextDue looks only ahead, so that
		// moment would pass unnoticed until the next resync.
		if why == "" && waiting && !c.cfg.Now().Before(dueAt) {
			why = "retry or grace due"
		}
		if why != "" {
			why = gather(events, trigger, why, c.onEvent)
		}
	}
}

// gather waits a moment for more triggers and folds them into the first one.
func gather(events <-chan Event, trigger <-chan string, why string, onEvent func(Event) string) string {
	t := time.NewTimer(debounce)
	defer t.Stop()
	for {
		select {
		case e := <-events:
			onEvent(e)
		case <-trigger:
		case <-t.C:
			return why
		}
	}
}

func poke(ch chan string, why string) {
	select {
	case ch <- why:
	default:
	}
}

// onEvent notes what an event says and returns why it calls for a reconcile ("" when it
// does not).
func (c *Controller) onEvent(e Event) string {
	switch e.Action {
	case HostDown:
		c.hosts.down(e.Host, e.LastAnswer)
		c.cfg.Metrics.reconnect(e.Host)
		c.log.Warn("host unreachable", "host", e.Host, "grace", c.cfg.HostGrace, "last_answer", e.LastAnswer)
		c.evlog.Add(pipeline.LogEvent{Kind: pipeline.KindHostLost, Host: e.Host,
			Message: fmt.Sprintf("Host %s stopped answering; its tasks are moved if it is not back within %s.", e.Host, c.cfg.HostGrace)})
		return "host " + e.Host + " unreachable"
	case HostUp:
		if !c.hosts.up(e.Host) {
			return "" // the watcher's first connection: the host was never lost
		}
		c.log.Info("host reachable again", "host", e.Host)
		c.evlog.Add(pipeline.LogEvent{Kind: pipeline.KindHostBack, Host: e.Host, Message: fmt.Sprintf("Host %s answers again.", e.Host)})
		return "host " + e.Host + " is back"
	case "died", "oom", "remove", "kill":
		if e.Action == "kill" {
			return "" // a died follows
		}
		if _, ok := c.own[e.Host+"/"+e.ContainerID]; ok && e.Action != "oom" {
			return "" // this controller stopped or removed it: already reconciled
		}
		c.log.Info("task container "+e.Action, "host", e.Host, "service", e.Service, "container", short(e.ContainerID), "exit_code", e.ExitCode)
		if e.Kind == "" {
			// A job run's or a standalone task's end is its own business (deck job
			// history), not news: a job @every 10s would push everything else out of the
			// event log.
			c.evlog.Add(pipeline.LogEvent{Kind: pipeline.KindTaskDied, Service: e.Service, Host: e.Host, Message: diedSentence(e)})
		}
		return "task " + e.Action + " on " + e.Host
	}
	return ""
}

// beforeCycle takes the hosts whose event streams are broken out of the session, so the
// reconcile does not wait out a read's timeout on each of them, and dials only the others.
func (c *Controller) beforeCycle(s *pipeline.Session) {
	s.Dialable = c.hosts.dialable
	for _, h := range c.hosts.streamDownHosts() {
		s.MarkUnreachable(h, errStreamDown)
	}
}

// nextDue is how long until a service's retry or a host's grace comes due, and whether
// one is waiting (an hour when none is).
func (c *Controller) nextDue() (time.Duration, bool) {
	now := c.cfg.Now()
	next, waiting := now.Add(time.Hour), false
	for _, t := range []time.Time{c.retry.next(), c.hosts.graceEnds()} {
		if !t.IsZero() && t.Before(next) {
			next, waiting = t, true
		}
	}
	return max(next.Sub(now), 0), waiting
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// diedSentence says what a task's container event means, for the event log.
func diedSentence(e Event) string {
	svc := "(service " + e.Service + ")"
	where := fmt.Sprintf("task container %s on %s", short(e.ContainerID), e.Host)
	switch e.Action {
	case "oom":
		return fmt.Sprintf("%s %s was killed for exceeding its memory limit (OOM).", svc, where)
	case "remove":
		return fmt.Sprintf("%s %s was removed.", svc, where)
	}
	return fmt.Sprintf("%s %s stopped: exited with code %d.", svc, where, e.ExitCode)
}
