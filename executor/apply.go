package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner"
	"github.com/deckhq/deck/providers"
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
	Left    int // old tasks left running because their host is unreachable
	Err     error
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
	a := newApplier(plan, opts)
	if err := a.prepare(ctx); err != nil {
		return &Result{}, err
	}
	res := &Result{}
	var errs []error
	for _, sp := range plan.Services {
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

type applier struct {
	plan   *planner.Plan
	opts   Options
	mu     sync.Mutex // serialises Events
	slots  map[string]chan struct{}
	client *http.Client
}

func newApplier(plan *planner.Plan, opts Options) *applier {
	if opts.HostParallelism <= 0 {
		opts.HostParallelism = 4
	}
	if opts.MinRunning <= 0 {
		opts.MinRunning = time.Second
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 200 * time.Millisecond
	}
	a := &applier{plan: plan, opts: opts, slots: map[string]chan struct{}{}, client: opts.HTTPClient}
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
	for wave := 0; wave < sp.Waves || wave == 0; wave++ {
		changes := a.plan.ServiceChanges(sp.Name, wave)
		if len(changes) == 0 {
			continue
		}
		if sp.Waves > 1 {
			a.emit(Event{Kind: EventWave, Service: sp.Name, Wave: wave + 1, Message: fmt.Sprintf("wave %d of %d", wave+1, sp.Waves)})
		}
		if err := a.applyWave(ctx, changes, &res); err != nil {
			res.Err = err
			a.emit(Event{Kind: EventServiceFailed, Service: sp.Name, Message: err.Error()})
			return res
		}
	}
	if sp.Delete || sp.Revision != "" {
		a.pruneSecrets(ctx, sp)
	}
	a.emit(Event{Kind: EventServiceDone, Service: sp.Name,
		Message: fmt.Sprintf("%d started, %d stopped", len(res.Created), res.Stopped)})
	return res
}

// applyWave stops the StopFirst tasks, starts the new tasks and waits for them to be
// healthy, then stops the tasks they replace. A failed new task is removed and its old task
// kept. If a task that had to stop first could not be stopped, nothing of the wave starts:
// the planner counted on its room (a port, memory) being free.
func (a *applier) applyWave(ctx context.Context, changes []planner.Change, res *ServiceResult) error {
	var mu sync.Mutex
	record := func(stopped bool, err error) error {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case stopped:
			res.Stopped++
		case err == nil:
			res.Left++ // its host is unreachable: the next plan sees it when the host returns
		}
		return err
	}
	var first []planner.Change
	for _, c := range changes {
		if c.Old != nil && (c.StopFirst || c.Action == planner.Destroy) {
			first = append(first, c)
		}
	}
	if err := errors.Join(a.parallel(first, func(c planner.Change) error {
		return record(a.stopOld(ctx, c))
	})...); err != nil {
		return fmt.Errorf("stopping tasks before the wave's new tasks start: %w", err)
	}

	var starts []planner.Change
	for _, c := range changes {
		if c.Action != planner.Destroy {
			starts = append(starts, c)
		}
	}
	errs := a.parallel(starts, func(c planner.Change) error {
		t, err := a.startTask(ctx, c)
		if err != nil {
			a.emit(Event{Kind: EventTaskFailed, Service: c.Service, Host: c.Host, TaskID: c.TaskID, Message: err.Error()})
			return fmt.Errorf("task %s on %s: %w", c.TaskID, c.Host, err)
		}
		mu.Lock()
		res.Created = append(res.Created, t)
		mu.Unlock()
		if c.Old != nil && !c.StopFirst {
			// The next wave was placed on this task's room: failing to stop it fails the wave.
			return record(a.stopOld(ctx, c))
		}
		return nil
	})
	sort.Slice(res.Created, func(i, j int) bool {
		return res.Created[i].Host+res.Created[i].TaskID < res.Created[j].Host+res.Created[j].TaskID
	})
	return errors.Join(errs...)
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

// startTask creates the new task of a change and waits until it is healthy. On failure the
// new container is removed, so nothing is left behind.
func (a *applier) startTask(ctx context.Context, c planner.Change) (NewTask, error) {
	rev, ok := a.plan.Revisions[c.Revision]
	if !ok {
		return NewTask{}, fmt.Errorf("plan has no revision %s", c.Revision)
	}
	h, err := a.host(c.Host)
	if err != nil {
		return NewTask{}, err
	}
	spec := TaskSpec(a.plan.App, a.plan.Env, c.Host, c.TaskID, rev)
	a.emit(Event{Kind: EventTaskCreating, Service: c.Service, Host: c.Host, TaskID: c.TaskID, Message: "revision " + rev.ID})
	release := a.acquire(c.Host)
	t, err := h.Create(ctx, spec)
	if err == nil {
		var started providers.Task
		if started, err = h.Start(ctx, t.ContainerID); err != nil {
			a.removeFailed(h, t.ContainerID, 0)
		}
		t = started
	}
	release()
	if err != nil {
		return NewTask{}, err
	}
	nt := NewTask{Host: c.Host, TaskID: c.TaskID, ContainerID: t.ContainerID}
	if rev.Task.Port != 0 {
		if hp := t.HostPort(rev.Task.Port); hp != 0 {
			nt.Address = h.Spec().Address + ":" + strconv.Itoa(hp)
		}
	}
	a.emit(Event{Kind: EventTaskStarted, Service: c.Service, Host: c.Host, TaskID: c.TaskID, Message: nt.Address})
	if err := a.waitHealthy(ctx, h, rev.Task, t, nt.Address); err != nil {
		a.removeFailed(h, t.ContainerID, rev.Task.StopTimeout)
		return NewTask{}, err
	}
	a.emit(Event{Kind: EventTaskHealthy, Service: c.Service, Host: c.Host, TaskID: c.TaskID, Message: nt.Address})
	return nt, nil
}

// removeFailed stops and removes a task that did not become healthy. It runs even when the
// deploy was cancelled, with a short deadline of its own, so a failed task is not orphaned.
func (a *applier) removeFailed(h providers.Host, containerID string, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout+10*time.Second)
	defer cancel()
	_ = h.Stop(ctx, containerID, timeout)
	_ = h.Remove(ctx, containerID)
}

// stopOld stops and removes the task a change replaces or destroys. It reports whether it
// did; (false, nil) means the task's host is unreachable, so the task is left for the next
// plan, which sees it again when its host returns.
func (a *applier) stopOld(ctx context.Context, c planner.Change) (bool, error) {
	o := c.Old
	h := a.opts.Fleet.Host(o.Host)
	if h == nil {
		a.emit(Event{Kind: EventTaskLeft, Service: c.Service, Host: o.Host, TaskID: o.TaskID,
			Message: "host is unreachable; the task is stopped when deck next sees the host"})
		return false, nil
	}
	timeout := o.StopTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	a.emit(Event{Kind: EventTaskStopping, Service: c.Service, Host: o.Host, TaskID: o.TaskID, Message: c.Reason})
	err := h.Stop(ctx, o.ContainerID, timeout)
	if err == nil || errors.Is(err, providers.ErrNotFound) {
		err = h.Remove(ctx, o.ContainerID)
	}
	if err != nil && !errors.Is(err, providers.ErrNotFound) {
		a.emit(Event{Kind: EventTaskLeft, Service: c.Service, Host: o.Host, TaskID: o.TaskID, Message: err.Error()})
		return false, fmt.Errorf("task %s on %s could not be stopped: %w", o.TaskID, o.Host, err)
	}
	a.emit(Event{Kind: EventTaskStopped, Service: c.Service, Host: o.Host, TaskID: o.TaskID})
	return true, nil
}

// TaskSpec renders the container of one task of a revision.
func TaskSpec(app, env, host, taskID string, rev planner.Revision) providers.TaskSpec {
	td := rev.Task
	labels := map[string]string{}
	for k, v := range td.Labels {
		labels[k] = v
	}
	specJSON, _ := jsonMarshal(td)
	labels[providers.LabelManaged] = "true"
	labels[providers.LabelApp] = app
	labels[providers.LabelEnv] = env
	labels[providers.LabelService] = rev.Service
	labels[providers.LabelRevision] = rev.ID
	labels[providers.LabelTask] = taskID
	labels[providers.LabelSpec] = specJSON
	if td.Port != 0 {
		labels[providers.LabelPort] = strconv.Itoa(td.Port)
	}
	envs := map[string]string{}
	for k, v := range td.Variables {
		envs[k] = v
	}
	envs["DECK_APP"] = app
	envs["DECK_ENV"] = env
	envs["DECK_SERVICE"] = rev.Service
	envs["DECK_REVISION"] = rev.ID
	envs["DECK_TASK_ID"] = taskID
	envs["DECK_HOST"] = host
	spec := providers.TaskSpec{
		Name:        ContainerName(app, env, rev.Service, taskID),
		Image:       td.Image,
		Command:     td.Command,
		Entrypoint:  td.Entrypoint,
		Env:         envs,
		Labels:      labels,
		Port:        td.Port,
		HostPort:    td.HostPort,
		CPUShares:   td.CPU,
		MemoryMiB:   td.Memory,
		StopTimeout: td.StopTimeout,
		Volumes:     hostVolumes(app, env, td.Volumes),
	}
	for _, s := range td.Secrets {
		spec.Secrets = append(spec.Secrets, providers.TaskSecret{
			Secret: SecretName(app, env, rev.Service, s.Name, s.Digest), Env: s.Name})
	}
	if hc := td.Healthcheck; hc != nil && len(hc.Command) > 0 {
		spec.Healthcheck = hc.Command
	}
	return spec
}

// hostVolumes names each named volume APP.ENV.NAME on the host: the services of an app and
// environment share a volume by naming it alike, and two apps (or prod and staging on
// shared hosts) never do by accident. Dots, because names may hold dashes: env prod-eu's
// volume data must not be env prod's volume eu-data. Bind mounts are kept as they are.
func hostVolumes(app, env string, vols []manifest.Volume) []manifest.Volume {
	if len(vols) == 0 {
		return nil
	}
	out := make([]manifest.Volume, len(vols))
	for i, v := range vols {
		if v.Type == "volume" {
			v.Source = app + "." + env + "." + v.Source
		}
		out[i] = v
	}
	return out
}

// ContainerName is APP-ENV-SERVICE-TASKID: unique, and readable in `podman ps`.
func ContainerName(app, env, service, taskID string) string {
	return strings.Join([]string{app, env, service, taskID}, "-")
}
