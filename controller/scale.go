package controller

import (
	"context"
	"sync"
	"time"

	"github.com/deckhq/deck/controller/autoscale"
	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/providers/lb"
)

// scaleTick is how often the autoscaled services' metrics are judged.
const scaleTick = 5 * time.Second

// scaling autoscales the services that have a count range: one sampler per service, fed
// by a copy of what the last reconcile saw (the samplers run on their own goroutines; the
// session is the loop's alone), and one Step per service every scaleTick on the loop.
type scaling struct {
	mu        sync.Mutex
	tasks     map[string][]autoscale.Task // by service
	balancers []lb.Balancer
	scalers   map[string]*autoscale.Scaler
	stop      map[string]context.CancelFunc
}

func newScaling() *scaling {
	return &scaling{tasks: map[string][]autoscale.Task{}, scalers: map[string]*autoscale.Scaler{},
		stop: map[string]context.CancelFunc{}}
}

// update copies what the session saw, and starts or stops the scalers as services gain
// or lose a count range.
func (c *Controller) updateScaling(ctx context.Context, s *pipeline.Session, term Term) {
	sc := c.scale
	tasks := map[string][]autoscale.Task{}
	for t := range s.Snap.EachTask() {
		if t.Running() && t.HostReachable && t.Meta.Kind == "" {
			tasks[t.Service] = append(tasks[t.Service], autoscale.TaskOf(*t.Task, t.HostAddress))
		}
	}
	sc.mu.Lock()
	sc.tasks, sc.balancers = tasks, s.OpenedBalancers()
	sc.mu.Unlock()
	wanted := map[string]bool{}
	var states map[string]pipeline.ScaleState
	for _, svc := range c.services {
		p, ok := autoscale.PolicyOf(svc.Count)
		if !ok {
			continue
		}
		name := svc.Name
		wanted[name] = true
		p.Service = name
		if cur := sc.scalers[name]; cur != nil {
			cur.Policy = p
			continue
		}
		if states == nil {
			states, _ = pipeline.ReadScaleStates(ctx, s)
		}
		sampler := autoscale.NewSampler(autoscale.Source{
			Tasks: func() []autoscale.Task { sc.mu.Lock(); defer sc.mu.Unlock(); return sc.tasks[name] },
			Host:  autoscale.HostsOf(s.Fleet.Host),
			Balancers: func() []autoscale.InFlightReader {
				sc.mu.Lock()
				defer sc.mu.Unlock()
				return autoscale.BalancersOf(sc.balancers)
			},
		}, c.cfg.Autoscale)
		scaler := &autoscale.Scaler{Policy: p, Sampler: sampler,
			Apply: func(ctx context.Context, n int, why string) error { return c.setCount(ctx, s, term, name, n, why) },
			RecordNoScaleIn: func(ctx context.Context, why string) error {
				var fence func() error
				if term != nil {
					if term.Check() != nil {
						return nil
					}
					fence = term.Check
				}
				return pipeline.RecordNoScaleIn(ctx, s, name, why, fence)
			}}
		if st, ok := states[name]; ok {
			scaler.Resume(st.LastOut, st.LastIn, st.NoScaleIn)
		}
		sctx, cancel := context.WithCancel(ctx)
		go sampler.Run(sctx)
		sc.scalers[name], sc.stop[name] = scaler, cancel
		c.log.Info("autoscaling", "service", name, "min", p.Min, "max", p.Max)
	}
	for name, cancel := range sc.stop {
		if !wanted[name] {
			cancel()
			delete(sc.stop, name)
			delete(sc.scalers, name)
		}
	}
}

// setCount records a scaling decision as the service's new desired count, holding the
// deploy lock (a deploy is not running meanwhile).
func (c *Controller) setCount(ctx context.Context, s *pipeline.Session, term Term, service string, n int, why string) error {
	lease, err := c.locker(term)(ctx, s)
	if err != nil {
		return err
	}
	defer func() { _ = lease.Release(context.WithoutCancel(ctx)) }()
	return pipeline.SetDesiredCount(ctx, s, service, n, why, lease.Check)
}

// autoscale judges every autoscaled service once; a decision that changed a count asks
// for a reconcile (returned true).
func (c *Controller) autoscale(ctx context.Context, s *pipeline.Session) bool {
	changed := false
	for _, svc := range c.services {
		scaler := c.scale.scalers[svc.Name]
		if scaler == nil {
			continue
		}
		d, err := scaler.Step(ctx, svc.Count.Value, deploying(s, svc.Name), c.cfg.Now())
		if err != nil {
			c.log.Warn("autoscaling", "service", svc.Name, "err", err)
			continue
		}
		if d.Action != autoscale.None {
			c.log.Info(d.Reason, "service", svc.Name, "from", svc.Count.Value, "to", d.Count)
			c.evlog.Add(pipeline.LogEvent{Kind: pipeline.KindScaled, Service: svc.Name, Message: d.Reason})
			c.cfg.Metrics.Scaled(c.cfg.Target.App.Name, c.cfg.Target.Env.Name, svc.Name, string(d.Action))
			changed = true
		}
	}
	return changed
}

// deploying reports whether a service's running tasks are of more than one revision: a
// rollout is under way (or stopped half way), and it must not scale in. Only the hosts
// that answer count: the last-seen tasks of one that does not (kept while it is away)
// may be of a revision a completed deploy has replaced everywhere else, and would keep
// the service "deploying" until the host came back.
func deploying(s *pipeline.Session, service string) bool {
	revs := map[string]bool{}
	for t := range s.Snap.EachTaskOf(service) {
		if t.Running() && t.HostReachable && t.Meta.Kind == "" {
			revs[t.Revision] = true
		}
	}
	return len(revs) > 1
}
