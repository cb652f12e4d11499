package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/deckhq/deck/executor/failpoint"
	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/health"
	"github.com/deckhq/deck/providers/lb"
)

// Options are what Apply needs besides the plan.
type Options struct {
	Fleet *providers.Fleet
	// Builder builds images that come from a Containerfile; nil = the first connected host.
	Builder providers.Host
	Builds  map[string]manifest.BuildSpec // image ref -> build (from Resolve)
	Secrets map[string][]byte             // Podman secret name -> value (from Resolve)
	Events  func(Event)                   // may be nil; called from many goroutines, one at a time
	// HostParallelism bounds the containers created at once on one host (default 4).
	HostParallelism int
	// MinRunning is how long a task with no health check must stay running to count (default 1s).
	MinRunning time.Duration
	// PollInterval is how often a starting task is probed (default 200ms).
	PollInterval time.Duration
	HTTPClient   *http.Client
	BuildOutput  io.Writer
	// Epoch is the fencing epoch of the deploy lock: every container created carries it.
	Epoch uint64
	// Fence, when set, is asked before every write and stops the deploy when it fails
	// (the lock was lost). See lock.Lease.Check.
	Fence func() error
	// Desired is each service's desired state, recorded on the tasks it creates.
	Desired map[string]providers.DesiredState
	// KeepSecrets names Podman secrets that pruning must leave: those of the revisions
	// kept for rollback.
	KeepSecrets map[string]bool
	// Balancers are the environment's load balancers (see routes.go); every one gets the
	// same routes.
	Balancers []lb.Balancer
}

// Result is what Apply did, service by service.
type Result struct {
	Services []ServiceResult
}

// ServiceResult is one service's outcome.
type ServiceResult struct {
	Name    string
	Created []NewTask
	Stopped int
	// StoppedIDs are the container ids of the tasks stopped, as "host/container".
	StoppedIDs []string
	Left       int // old tasks left running because their host is unreachable
	Err        error
	// Tripped is true when the service's circuit breaker stopped its rollout (Err is a
	// *BreakerError).
	Tripped bool
}

// NewTask is a task Apply started and saw healthy.
type NewTask struct {
	Host        string
	TaskID      string
	ContainerID string
	Address     string // host address:published port, when the task publishes one
}

// ErrStalePlan is returned (wrapped) when a plan no longer matches the hosts.
var ErrStalePlan = errors.New("the hosts changed since the plan was made")

// Apply carries out the plan. Services are applied one after another, in plan order: the
// planner gives a later service the room (cpu, memory, host ports) an earlier one frees, so
// that room must be free before the later service starts. A service's waves run in order;
// within a wave, work runs in parallel across hosts. A task that fails to start or to become
// healthy is removed and the task it was to replace keeps running. The returned error joins
// every service's failure.
func Apply(ctx context.Context, plan *planner.Plan, opts Options) (*Result, error) {
	if err := Check(plan); err != nil {
		return &Result{}, err
	}
	a := newApplier(plan, opts)
	if err := a.prepare(ctx); err != nil {
		return &Result{}, err
	}
	failpoint.Hit(failpoint.AfterImage)
	res := &Result{}
	var errs []error
	for i, sp := range plan.Services {
		if i > 0 {
			failpoint.Hit(failpoint.BetweenServices)
		}
		sr := a.applyService(ctx, sp)
		res.Services = append(res.Services, sr)
		if sr.Err != nil {
			errs = append(errs, fmt.Errorf("service %s: %w", sr.Name, sr.Err))
		}
	}
	return res, errors.Join(errs...)
}

// Stopped is how many old tasks the apply stopped, over all services.
func (r *Result) Stopped() int {
	n := 0
	for _, s := range r.Services {
		n += s.Stopped
	}
	return n
}

// Started counts the new tasks left running: those that passed their health checks and
// were not taken back.
func (r *Result) Started() int {
	n := 0
	for _, s := range r.Services {
		n += len(s.Created)
	}
	return n
}

type applier struct {
	plan   *planner.Plan
	opts   Options
	mu     sync.Mutex // serialises Events; guards routes
	slots  map[string]chan struct{}
	client *http.Client
	routes map[string]*routing // the routed services' routes, while applied
	redact *Redactor           // hides the secrets' values in failed tasks' log lines
}

func newApplier(plan *planner.Plan, opts Options) *applier {
	if opts.HostParallelism <= 0 {
		opts.HostParallelism = 4
	}
	if opts.MinRunning <= 0 {
		opts.MinRunning = health.MinRunning
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 200 * time.Millisecond
	}
	a := &applier{plan: plan, opts: opts, slots: map[string]chan struct{}{}, client: opts.HTTPClient,
		routes: map[string]*routing{}, redact: NewRedactor(opts.Secrets)}
	if a.client == nil {
		a.client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	}
	for _, c := range plan.Changes {
		if c.Host != "" && a.slots[c.Host] == nil {
			a.slots[c.Host] = make(chan struct{}, opts.HostParallelism)
		}
	}
	return a
}

func (a *applier) emit(e Event) {
	if a.opts.Events == nil {
		return
	}
	e.Time = time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.opts.Events(e)
}

func (a *applier) host(name string) (providers.Host, error) {
	h := a.opts.Fleet.Host(name)
	if h == nil {
		return nil, fmt.Errorf("host %s is not connected (unreachable when the hosts were read)", name)
	}
	return h, nil
}

func (a *applier) applyService(ctx context.Context, sp planner.ServicePlan) ServiceResult {
	res := ServiceResult{Name: sp.Name}
	failed := func(err error) ServiceResult {
		res.Err = err
		var be *BreakerError
		res.Tripped = errors.As(err, &be)
		a.emit(Event{Kind: EventServiceFailed, Service: sp.Name, Message: err.Error()})
		return res
	}
	rt := a.routingFor(sp)
	a.mu.Lock()
	a.routes[sp.Name] = rt
	a.mu.Unlock()
	if rt != nil {
		// Restore the route first (a balancer restarted empty, targets of tasks that are
		// gone): the old tasks serve through it while the rollout runs.
		if err := rt.flush(ctx); err != nil {
			return failed(err)
		}
	}
	unrouted, err := a.unroute(ctx, sp)
	if err != nil {
		return failed(err)
	}
	br := newBreaker(sp.BreakerThreshold)
	for wave := 0; wave < sp.Waves || wave == 0; wave++ {
		changes := a.plan.ServiceChanges(sp.Name, wave)
		if len(changes) == 0 {
			continue
		}
		if wave > 0 {
			failpoint.Hit(failpoint.BetweenWaves)
		}
		if sp.Waves > 1 {
			a.emit(Event{Kind: EventWave, Service: sp.Name, Wave: wave + 1, Message: fmt.Sprintf("wave %d of %d", wave+1, sp.Waves)})
		}
		if err := a.applyWave(ctx, changes, &res, rt, br); err != nil {
			if rt != nil {
				// Drop the draining addresses of the tasks this run stopped (best effort:
				// the next run's plan drops them too): what the balancers hold is what runs.
				_ = rt.flush(ctx)
			}
			return failed(err)
		}
	}
	if rt != nil {
		rt.settle()
		if err := rt.flush(ctx); err != nil { // drop the drained targets; the manifest's settings
			return failed(err)
		}
	}
	if err := a.deleteRoutes(ctx, unrouted); err != nil {
		return failed(err)
	}
	if sp.Delete || sp.Revision != "" {
		a.pruneSecrets(ctx, sp)
	}
	a.emit(Event{Kind: EventServiceDone, Service: sp.Name, Message: a.doneMessage(sp, res)})
	return res
}

// applyWave runs one rollout step. Tasks that must stop first are deregistered, drained
// and stopped; then the wave's new tasks start, each retried while the circuit breaker
// allows; the healthy ones are registered in the same load-balancer change that
// deregisters the old tasks they replace, which drain and stop. A failed new task is
// removed and its old task kept. If a task that had to stop first could not be stopped,
// nothing of the wave starts: the planner counted on its room (a port, memory) being free.
func (a *applier) applyWave(ctx context.Context, changes []planner.Change, res *ServiceResult, rt *routing, br *breaker) error {
	var mu sync.Mutex
	// record counts what stopOld did; the caller holds mu.
	record := func(stopped bool, err error, c planner.Change) {
		switch {
		case stopped:
			res.Stopped++
			res.StoppedIDs = append(res.StoppedIDs, c.Old.Host+"/"+c.Old.ContainerID)
		case err == nil:
			res.Left++ // its host is unreachable: the next plan sees it when the host returns
		}
	}
	// stopAll drains and stops olds. Only the addresses of tasks that were stopped are
	// dropped from the route; a task whose stop failed still runs. When it had to stop
	// first, nothing of the wave starts, so it is a target again rather than left out.
	stopAll := func(olds []planner.Change, first bool) error {
		if rt != nil {
			if err := rt.drain(ctx, oldAddresses(olds)); err != nil {
				return err
			}
		}
		var gone, running []string
		err := errors.Join(a.parallel(olds, func(c planner.Change) error {
			stopped, err := a.stopOld(ctx, c)
			mu.Lock()
			defer mu.Unlock()
			record(stopped, err, c)
			switch addr := c.Old.Address; {
			case addr == "":
			case stopped:
				gone = append(gone, addr)
			case err != nil:
				running = append(running, addr)
			}
			return err
		})...)
		if rt != nil {
			rt.gone(gone...)
			if first {
				rt.register(running...)
			}
		}
		return err
	}
	var first []planner.Change
	for _, c := range changes {
		if c.Kind == planner.KindTask && c.Old != nil && (c.StopFirst || c.Action == planner.Destroy) {
			first = append(first, c)
		}
	}
	if err := stopAll(first, true); err != nil {
		return fmt.Errorf("stopping tasks before the wave's new tasks start: %w", err)
	}

	var starts []planner.Change
	for _, c := range changes {
		if c.Kind == planner.KindTask && c.Action != planner.Destroy {
			starts = append(starts, c)
		}
	}
	type ok struct {
		c planner.Change
		t NewTask
	}
	var healthy []ok
	// Once the breaker trips, the wave's other new tasks stop waiting for their health
	// checks: the rollout has failed, and waiting on them would only delay the rollback.
	wait, tripped := context.WithCancel(ctx)
	defer tripped()
	errs := a.parallel(starts, func(c planner.Change) error {
		for {
			var t NewTask
			var err error
			if c.Action == planner.Verify {
				t, err = a.verifyTask(ctx, wait, c)
			} else {
				t, err = a.startTask(ctx, wait, c)
			}
			if err == nil {
				mu.Lock()
				healthy = append(healthy, ok{c, t})
				mu.Unlock()
				return nil
			}
			if wait.Err() != nil && ctx.Err() == nil {
				// Removed unchecked because another task tripped the breaker: not a failure of its own.
				a.emit(Event{Kind: EventTaskFailed, Service: c.Service, Host: c.Host, TaskID: c.TaskID,
					Message: "removed before its health check ended: the circuit breaker tripped"})
				return nil
			}
			if ctx.Err() != nil {
				// The run was interrupted (Ctrl-C, a cancelled CI job) while the task
				// started or waited (it was removed, as a failed one is): no failure of the
				// revision, so the circuit breaker does not count it, and no rollback starts
				// that the user did not ask for and could not stop.
				a.emit(Event{Kind: EventTaskFailed, Service: c.Service, Host: c.Host, TaskID: c.TaskID,
					Message: "removed: deck was interrupted before its health check ended"})
				return fmt.Errorf("task %s on %s: %w", c.TaskID, c.Host, ctx.Err())
			}
			a.emit(Event{Kind: EventTaskFailed, Service: c.Service, Host: c.Host, TaskID: c.TaskID, Message: err.Error()})
			var f *TaskFailure
			if !errors.As(err, &f) {
				err = fmt.Errorf("task %s on %s: %w", c.TaskID, c.Host, err)
			}
			if errors.Is(err, providers.ErrUnreachable) {
				// Its host stopped answering: no fault of the revision, so the circuit
				// breaker does not count it (a good revision is not rolled back for a lost
				// host), and no replacement starts on a host that does not answer. The old
				// task stays; the next plan places around the host.
				return fmt.Errorf("%w; its host stopped answering during the rollout: run deck deploy again to place the task elsewhere (or once the host is back)", err)
			}
			if !br.fail(err) {
				if br.isTripped() {
					tripped()
				}
				return err
			}
			// Start a replacement in its place: a fresh task of the same revision.
			if c.Action == planner.Verify {
				c.Action, c.Existing = planner.Create, ""
				if c.Old != nil {
					c.Action = planner.Replace
				}
			}
			c.TaskID = a.newTaskID()
			a.emit(Event{Kind: EventRetry, Service: c.Service, Host: c.Host, TaskID: c.TaskID,
				Message: "starting a replacement for the failed task"})
		}
	})
	if br.isTripped() {
		// Take back what this wave started: the tasks it was to replace keep serving, and
		// nothing of the failing revision was registered.
		var wg sync.WaitGroup
		for _, o := range healthy {
			if h := a.opts.Fleet.Host(o.t.Host); h != nil {
				wg.Add(1)
				go func() {
					defer wg.Done()
					a.removeFailed(h, o.t.ContainerID, 0)
				}()
			}
		}
		wg.Wait()
		be := br.err(changes[0].Service)
		a.emit(Event{Kind: EventBreaker, Service: be.Service, Message: be.Error()})
		return be
	}
	var olds []planner.Change
	var addrs []string
	for _, o := range healthy {
		res.Created = append(res.Created, o.t)
		addrs = append(addrs, o.t.Address)
		if o.c.Old != nil && !o.c.StopFirst {
			olds = append(olds, o.c)
		}
	}
	if rt != nil {
		rt.register(addrs...)
	}
	// One change registers the new tasks and deregisters the old ones (drain flushes it).
	stopErr := stopAll(olds, false)
	if rt != nil && len(olds) == 0 {
		stopErr = errors.Join(stopErr, rt.flush(ctx))
	}
	sort.Slice(res.Created, func(i, j int) bool {
		return res.Created[i].Host+res.Created[i].TaskID < res.Created[j].Host+res.Created[j].TaskID
	})
	return errors.Join(append(errs, stopErr)...)
}

func oldAddresses(cs []planner.Change) []string {
	var out []string
	for _, c := range cs {
		if c.Old != nil && c.Old.Address != "" {
			out = append(out, c.Old.Address)
		}
	}
	return out
}

// parallel runs fn for every change at once (per-host limits are taken inside) and returns
// the errors in change order.
func (a *applier) parallel(changes []planner.Change, fn func(planner.Change) error) []error {
	errs := make([]error, len(changes))
	var wg sync.WaitGroup
	for i, c := range changes {
		wg.Add(1)
		go func(i int, c planner.Change) {
			defer wg.Done()
			errs[i] = fn(c)
		}(i, c)
	}
	wg.Wait()
	return errs
}

func (a *applier) acquire(host string) func() {
	ch := a.slots[host]
	if ch == nil {
		return func() {}
	}
	ch <- struct{}{}
	return func() { <-ch }
}

// Check refuses a plan the executor does not know how to apply: a change of a kind or
// action it does not know (a load-balancer change must never be applied as a task), or
// one that lacks what its action needs.
func Check(plan *planner.Plan) error {
	for i, c := range plan.Changes {
		if c.Kind == planner.KindRoute || c.Kind == planner.KindTarget {
			if c.LB == "" {
				return fmt.Errorf("change %d (service %s, %s %s) names no load balancer", i+1, c.Service, c.Action, c.Kind)
			}
			if c.Kind == planner.KindRoute && c.Action != planner.Destroy && c.Route == nil {
				return fmt.Errorf("change %d (service %s, %s route) lacks the route", i+1, c.Service, c.Action)
			}
			continue
		}
		if c.Kind == planner.KindJob {
			if err := checkJob(plan, i, c); err != nil {
				return err
			}
			continue
		}
		if c.Kind != planner.KindTask {
			return fmt.Errorf("change %d (service %s) acts on a %q, which this deck cannot apply; update deck", i+1, c.Service, c.Kind)
		}
		var missing string
		switch c.Action {
		case planner.Create:
			missing = lacks(c.Host == "" || c.TaskID == "", "a host and task id")
		case planner.Replace:
			missing = lacks(c.Host == "" || c.TaskID == "" || c.Old == nil, "a host, a task id and the old task")
		case planner.Destroy:
			missing = lacks(c.Old == nil, "the task to stop")
		case planner.Verify:
			missing = lacks(c.Host == "" || c.Existing == "", "a host and the container to verify")
		default:
			return fmt.Errorf("change %d (service %s) has action %q, which this deck cannot apply; update deck", i+1, c.Service, c.Action)
		}
		if missing != "" {
			return fmt.Errorf("change %d (service %s, %s) lacks %s", i+1, c.Service, c.Action, missing)
		}
	}
	return nil
}

func lacks(lacking bool, what string) string {
	if lacking {
		return what
	}
	return ""
}
