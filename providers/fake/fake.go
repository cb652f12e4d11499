// Package fake is an in-memory implementation of the provider interfaces, for unit tests
// and large simulations. It is never used to make an end-to-end test pass.
package fake

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
)

var (
	_ providers.Host   = (*Host)(nil)
	_ providers.Dialer = (*Cloud)(nil)
)

// Cloud is a set of fake hosts, dialled by name.
type Cloud struct {
	mu       sync.Mutex
	hosts    map[string]*Host
	registry map[string]bool
	intern   *interner // equal labels and task definitions, shared between hosts and containers
}

// Publish puts an image in the cloud's registry, where every host's PullImage finds it.
func (c *Cloud) Publish(ref string) { c.mu.Lock(); c.registry[ref] = true; c.mu.Unlock() }

// InRegistry reports whether ref was published.
func (c *Cloud) InRegistry(ref string) bool { c.mu.Lock(); defer c.mu.Unlock(); return c.registry[ref] }

// NewCloud returns an empty cloud.
func NewCloud() *Cloud {
	return &Cloud{hosts: map[string]*Host{}, registry: map[string]bool{}, intern: newInterner()}
}

// AddHost adds a host with the given capacity and returns it.
func (c *Cloud) AddHost(spec manifest.HostSpec, capacity manifest.Resources) *Host {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := &Host{cloud: c, spec: spec, info: providers.HostInfo{Version: "fake", Capacity: capacity},
		containers: map[string]*providers.Task{}, specs: map[string]providers.TaskSpec{},
		images: map[string]bool{}, secrets: map[string][]byte{}, records: map[string]storedRecord{},
		volumes: map[string]bool{},
		Healthy: func(providers.TaskSpec) bool { return true }}
	c.hosts[spec.Name] = h
	return h
}

// Host returns the named host.
func (c *Cloud) Host(name string) *Host {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hosts[name]
}

// Dial connects to a host, failing when it is down.
func (c *Cloud) Dial(_ context.Context, spec manifest.HostSpec) (providers.Host, error) {
	h := c.Host(spec.Name)
	if h == nil {
		return nil, &providers.HostError{Host: spec.Name, URL: spec.URL, Op: "connecting", Err: fmt.Errorf("no such host")}
	}
	if err := h.check("connecting"); err != nil {
		return nil, err
	}
	return h, nil
}

// Host is one fake Podman host.
type Host struct {
	mu         sync.Mutex
	cloud      *Cloud
	spec       manifest.HostSpec
	info       providers.HostInfo
	down       bool
	seq        int
	containers map[string]*providers.Task
	specs      map[string]providers.TaskSpec
	images     map[string]bool
	secrets    map[string][]byte
	records    map[string]storedRecord
	volumes    map[string]bool
	clock      func() time.Time
	infoCalls  int
	nextPort   int
	usage      map[string]*usage // set by SetUsage; see stats.go
	log        eventLog
	written    map[string][]providers.LogLine // by container: what WriteLog added (logstream.go)

	// Healthy decides whether a task passes its health check. Tests replace it.
	Healthy func(providers.TaskSpec) bool
	// FailCreate, when set, makes Create fail for specs it returns true for.
	FailCreate func(providers.TaskSpec) bool
	// Exits, when set, makes Start leave the container exited with the code it returns
	// (a process that dies at once) for specs it returns ok for.
	Exits func(providers.TaskSpec) (code int, ok bool)
	// Output, when set, is what a container wrote (Logs returns its tail).
	Output func(providers.TaskSpec) []string
	// FailStart, when set, makes Start fail with the error it returns (the container
	// stays created, as Podman leaves it).
	FailStart func(providers.TaskSpec) error
	// FailStop, when set, makes Stop fail for the containers it returns true for.
	FailStop func(containerID string) bool
	// IgnoresTail makes StreamLogs give every line whatever the tail asked, as Podman 4.3
	// does with a log it reads whole (when it meets a line still being written).
	IgnoresTail bool
	// IgnoresTerm, when set, makes Stop of the containers it returns true for take the
	// whole timeout and end in SIGKILL (exit code 137), as an app that ignores SIGTERM.
	IgnoresTerm func(containerID string) bool
	// Calls records every mutating call, in order ("create NAME", "stop ID", ...).
	Calls []string
	// Command, when set, runs the commands Exec is given (see exec.go).
	Command ExecFunc
}

// SetDown makes the host unreachable (true) or reachable again. Every call then fails as
// the Podman provider's do for a host that does not answer: a HostError naming the host
// and what deck was doing, wrapping providers.ErrUnreachable
// ("host h2 (fake://h2): listing containers: unreachable: connection refused").
// Going down ends the host's open event streams with such an error.
func (h *Host) SetDown(down bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.down = down
	if down {
		h.log.breaks++
		h.notify()
	}
}

// AddImage puts an image on the host.
func (h *Host) AddImage(ref string) { h.mu.Lock(); h.images[ref] = true; h.mu.Unlock() }

// Tasks returns the host's containers, sorted by name.
func (h *Host) Tasks() []providers.Task {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]providers.Task, 0, len(h.containers))
	for _, t := range h.containers {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// SetState changes a container's state, silently: no event is logged. Die and OOMKill
// simulate a crash that the host reports.
func (h *Host) SetState(containerID, state string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t := h.containers[containerID]; t != nil {
		t.State = state
	}
}

// TaskSpec returns the spec a container was created from.
func (h *Host) TaskSpec(containerID string) providers.TaskSpec {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.specs[containerID]
}

// Secret returns a stored secret's value.
func (h *Host) Secret(name string) ([]byte, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.secrets[name]
	return v, ok
}

// check fails when the host is down. op says what deck was doing, in the Podman
// provider's words ("listing containers", "stopping container ID").
func (h *Host) check(op string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down {
		return &providers.HostError{Host: h.spec.Name, URL: h.spec.URL, Op: op,
			Err: fmt.Errorf("%w: connection refused", providers.ErrUnreachable)}
	}
	return nil
}

func (h *Host) Name() string            { return h.spec.Name }
func (h *Host) Spec() manifest.HostSpec { return h.spec }
func (h *Host) Close() error            { return nil }

func (h *Host) Info(context.Context) (providers.HostInfo, error) {
	if err := h.check("reading host info"); err != nil {
		return providers.HostInfo{}, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.infoCalls++
	return h.info, nil
}

// InfoCalls counts the calls of Info (the costly call deck avoids repeating).
func (h *Host) InfoCalls() int { h.mu.Lock(); defer h.mu.Unlock(); return h.infoCalls }

func (h *Host) List(_ context.Context, app, env string) ([]providers.Task, error) {
	if err := h.check("listing containers"); err != nil {
		return nil, err
	}
	all := h.Tasks() // a copy of its own: filtered in place
	out := all[:0]
	for _, t := range all {
		if (app == "" || t.App == app) && (env == "" || t.Env == env) {
			out = append(out, t)
		}
	}
	clear(all[len(out):])
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func (h *Host) Create(_ context.Context, spec providers.TaskSpec) (providers.Task, error) {
	if err := h.check("creating container " + spec.Name); err != nil {
		return providers.Task{}, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.Calls = append(h.Calls, "create "+spec.Name)
	if !h.images[spec.Image] {
		return providers.Task{}, fmt.Errorf("image %s: %w", spec.Image, providers.ErrNotFound)
	}
	for _, s := range spec.Secrets {
		if err := checkSecret(s); err != nil {
			return providers.Task{}, err
		}
		if _, ok := h.secrets[s.Secret]; !ok {
			return providers.Task{}, fmt.Errorf("secret %s: %w", s.Secret, providers.ErrNotFound)
		}
	}
	for _, t := range h.containers {
		if t.Name == spec.Name {
			return providers.Task{}, fmt.Errorf("container name %q is already in use", spec.Name)
		}
	}
	if h.FailCreate != nil && h.FailCreate(spec) {
		return providers.Task{}, fmt.Errorf("fake: create %s failed", spec.Name)
	}
	h.seq++
	id := fmt.Sprintf("%s-c%06d", h.spec.Name, h.seq)
	t := h.cloud.intern.task(spec.Labels) // its own copy of the labels, as a host keeps
	spec.Labels = t.Labels
	t.ContainerID, t.Name, t.Host, t.State = id, spec.Name, h.spec.Name, "created"
	h.containers[id] = &t
	h.specs[id] = spec
	h.addVolumes(spec)
	h.emit("create", &t, 0)
	return t, nil
}

// Start starts a created container: it binds its port and runs (or exits at once, see Exits).
func (h *Host) Start(_ context.Context, id string) (providers.Task, error) {
	if err := h.check("starting container " + id); err != nil {
		return providers.Task{}, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.Calls = append(h.Calls, "start "+id)
	t, spec := h.containers[id], h.specs[id]
	if t == nil {
		return providers.Task{}, fmt.Errorf("container %s: %w", id, providers.ErrNotFound)
	}
	if h.FailStart != nil {
		if err := h.FailStart(spec); err != nil {
			return providers.Task{}, err
		}
	}
	if spec.Port != 0 {
		hp := spec.HostPort
		for _, o := range h.containers {
			if hp != 0 && o != t && o.HostPort(spec.Port) == hp && o.Running() {
				return providers.Task{}, fmt.Errorf("port %d is already allocated", hp)
			}
		}
		if hp == 0 {
			h.nextPort++
			hp = 40000 + h.nextPort
		}
		t.Ports = []providers.PortBinding{{ContainerPort: spec.Port, HostPort: hp, HostIP: "0.0.0.0"}}
	}
	t.State, t.StartedAt = "running", h.now()
	h.emit("start", t, 0)
	if h.Exits != nil {
		if code, ok := h.Exits(spec); ok {
			t.State, t.ExitCode, t.FinishedAt = "exited", code, h.now()
			h.emit("died", t, code)
		}
	}
	return *t, nil
}

// Inspect returns one container.
func (h *Host) Inspect(_ context.Context, id string) (providers.Task, error) {
	if err := h.check("inspecting container " + id); err != nil {
		return providers.Task{}, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.containers[id]
	if t == nil {
		return providers.Task{}, fmt.Errorf("container %s: %w", id, providers.ErrNotFound)
	}
	return *t, nil
}

// Logs returns the tail of what Output says the container wrote.
func (h *Host) Logs(_ context.Context, id string, tail int) ([]string, error) {
	if err := h.check("reading the logs of container " + id); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.containers[id] == nil {
		return nil, fmt.Errorf("container %s: %w", id, providers.ErrNotFound)
	}
	if h.Output == nil {
		return nil, nil
	}
	lines := h.Output(h.specs[id])
	if tail > 0 && len(lines) > tail {
		lines = lines[len(lines)-tail:]
	}
	return lines, nil
}

func (h *Host) Stop(ctx context.Context, id string, timeout time.Duration) error {
	if err := h.check("stopping container " + id); err != nil {
		return err
	}
	killed := h.IgnoresTerm != nil && h.IgnoresTerm(id)
	if killed {
		select { // the grace period SIGTERM was given, in vain
		case <-time.After(timeout):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.Calls = append(h.Calls, "stop "+id)
	t := h.containers[id]
	if t == nil {
		return fmt.Errorf("container %s: %w", id, providers.ErrNotFound)
	}
	if h.FailStop != nil && h.FailStop(id) {
		return fmt.Errorf("fake: stop %s timed out", id)
	}
	if t.Running() {
		code := 143
		if killed {
			code = 137
		}
		t.State, t.ExitCode, t.FinishedAt = "exited", code, h.now()
		h.emit("died", t, code)
		h.emit("stop", t, 0)
	}
	return nil
}

func (h *Host) Remove(_ context.Context, id string) error {
	if err := h.check("removing container " + id); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.Calls = append(h.Calls, "remove "+id)
	t := h.containers[id]
	if t == nil {
		return fmt.Errorf("container %s: %w", id, providers.ErrNotFound)
	}
	if t.Running() { // killed, as Podman's forced remove does
		t.State, t.ExitCode, t.FinishedAt = "exited", 137, time.Now()
		h.emit("died", t, 137)
	}
	h.emit("remove", t, t.ExitCode)
	delete(h.containers, id)
	delete(h.specs, id)
	delete(h.written, id)
	return nil
}

func (h *Host) HealthCheck(_ context.Context, id string) (bool, error) {
	if err := h.check("checking the health of container " + id); err != nil {
		return false, err
	}
	h.mu.Lock()
	t, spec, healthy := h.containers[id], h.specs[id], h.Healthy
	h.mu.Unlock()
	if t == nil {
		return false, fmt.Errorf("container %s: %w", id, providers.ErrNotFound)
	}
	return t.Running() && healthy(spec), nil
}

// Run creates and starts a container: a running task in one call, for tests that set a
// host up.
func (h *Host) Run(ctx context.Context, spec providers.TaskSpec) (providers.Task, error) {
	t, err := h.Create(ctx, spec)
	if err != nil {
		return t, err
	}
	return h.Start(ctx, t.ContainerID)
}
