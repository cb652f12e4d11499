package planner

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner/state"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/fake"
	"github.com/deckhq/deck/providers/health"
)

// harness runs the planner against fake hosts: tasks are created through the fake
// provider with deck's labels, observed with providers.Observe and loaded into the state
// store, as deck itself does.
type harness struct {
	t     *testing.T
	cloud *fake.Cloud
	specs []manifest.HostSpec
	// lost names hosts whose tasks were listed but which are now unreachable (a provider
	// that remembers the last listing).
	lost map[string]bool
	// health is what the read-time probe saw of a task, by its task id; a running task
	// not named here was seen healthy.
	health map[string]health.State
	// balancers is what the environment's load balancers hold.
	balancers []providers.BalancerObservation
}

const (
	testApp = "hello"
	testEnv = "test"
)

func newHarness(t *testing.T) *harness {
	return &harness{t: t, cloud: fake.NewCloud(), lost: map[string]bool{}, health: map[string]health.State{}}
}

// hosts adds n hosts h1..hn of the given size.
func (h *harness) hosts(n int, cpu, memory int64) *harness {
	for i := 1; i <= n; i++ {
		h.host(fmt.Sprintf("h%d", i), cpu, memory, nil)
	}
	return h
}

func (h *harness) host(name string, cpu, memory int64, attrs map[string]string) *fake.Host {
	spec := manifest.HostSpec{Name: name, URL: "unix:///fake/" + name, Address: name, Attributes: attrs}
	fh := h.cloud.AddHost(spec, manifest.Resources{CPU: cpu, Memory: memory})
	fh.AddImage("web:1")
	fh.AddImage("web:2")
	h.specs = append(h.specs, spec)
	return fh
}

// run starts a task of rev on host, labelled as deck labels its containers.
func (h *harness) run(host string, rev Revision, taskID string) providers.Task {
	return h.runSpec(host, rev.Service, rev.ID, &rev.Task, taskID)
}

// runSpec starts a task whose labels carry revision id and spec td (nil: no spec label).
func (h *harness) runSpec(host, service, revID string, td *manifest.TaskDef, taskID string) providers.Task {
	return h.runWith(host, service, revID, td, taskID, nil)
}

// runLabelled starts a task of rev on host with extra labels.
func (h *harness) runLabelled(host string, rev Revision, td *manifest.TaskDef, taskID string, extra map[string]string) providers.Task {
	return h.runWith(host, rev.Service, rev.ID, td, taskID, extra)
}

func (h *harness) runWith(host, service, revID string, td *manifest.TaskDef, taskID string, extra map[string]string) providers.Task {
	h.t.Helper()
	labels := map[string]string{
		providers.LabelManaged: "true", providers.LabelApp: testApp, providers.LabelEnv: testEnv,
		providers.LabelService: service, providers.LabelRevision: revID, providers.LabelTask: taskID,
	}
	for k, v := range extra {
		labels[k] = v
	}
	spec := providers.TaskSpec{Name: service + "-" + taskID, Image: "web:1", Labels: labels}
	if td != nil {
		b, err := json.Marshal(td)
		require.NoError(h.t, err)
		labels[providers.LabelSpec] = string(b)
		spec.Image, spec.Port, spec.HostPort = td.Image, td.Port, td.HostPort
		if td.Port != 0 {
			labels[providers.LabelPort] = strconv.Itoa(td.Port)
		}
		spec.CPUShares, spec.MemoryMiB = td.CPU, td.Memory
	}
	task, err := h.cloud.Host(host).Run(context.Background(), spec)
	require.NoError(h.t, err)
	return task
}

func (h *harness) snapshot() *state.Snapshot {
	h.t.Helper()
	_, obs := providers.Observe(context.Background(), h.cloud, h.specs, testApp, testEnv)
	obs.Balancers = h.balancers
	for i := range obs.Hosts {
		if h.lost[obs.Hosts[i].Spec.Name] {
			obs.Hosts[i].Reachable = false
			obs.Hosts[i].Err = fmt.Errorf("connection refused")
		}
	}
	seen := map[string]state.TaskHealth{}
	for _, ho := range obs.Hosts {
		for _, t := range ho.Tasks {
			hs, ok := h.health[t.TaskID]
			if !ok && t.Running() {
				hs = health.StateHealthy
			}
			seen[state.TaskID(ho.Spec.Name, t.ContainerID)] = state.TaskHealth{State: hs, Detail: "probe said " + string(hs)}
		}
	}
	st, err := state.Load(obs, seen)
	require.NoError(h.t, err)
	return st.Snapshot()
}

func (h *harness) compute(opts Options, desired ...Desired) (*Plan, error) {
	if opts.NewTaskID == nil {
		opts.NewTaskID = sequentialIDs()
	}
	return Compute(desired, h.snapshot(), opts)
}

func (h *harness) plan(desired ...Desired) *Plan {
	h.t.Helper()
	p, err := h.compute(Options{}, desired...)
	require.NoError(h.t, err)
	return p
}

// sequentialIDs makes task ids n0000001, n0000002, ...: deterministic, and distinct from
// the ids the tests give running tasks.
func sequentialIDs() func() string {
	n := 0
	return func() string { n++; return fmt.Sprintf("n%07d", n) }
}

func webTask() manifest.TaskDef {
	return manifest.TaskDef{Image: "web:1", Port: 8080, CPU: 256, Memory: 512,
		Variables: map[string]string{"GREETING": "hello"}}
}

// service makes a desired service; edit changes its spec before the revision is made.
func service(name string, count int, td manifest.TaskDef, edit ...func(*manifest.ServiceSpec)) Desired {
	s := manifest.ServiceSpec{App: testApp, Env: testEnv, Name: name, Type: manifest.LoadBalancedWebService,
		Task: td, Count: manifest.Count{Value: count},
		Deployment: manifest.Deployment{Strategy: "default", MinHealthyPercent: 100, MaxPercent: 200},
		Placement:  manifest.Placement{Strategy: "spread"}}
	for _, e := range edit {
		e(&s)
	}
	return Desired{Service: s, Revision: NewRevision(s.Name, s.Task)}
}

func withDeployment(minPct, maxPct int) func(*manifest.ServiceSpec) {
	return func(s *manifest.ServiceSpec) {
		s.Deployment = manifest.Deployment{Strategy: "custom", MinHealthyPercent: minPct, MaxPercent: maxPct}
	}
}

func withPlacement(p manifest.Placement) func(*manifest.ServiceSpec) {
	return func(s *manifest.ServiceSpec) { s.Placement = p }
}

// hostsOf counts the plan's new tasks per host.
func hostsOf(p *Plan) map[string]int {
	out := map[string]int{}
	for _, c := range p.Changes {
		if c.Action != Destroy {
			out[c.Host]++
		}
	}
	return out
}

func actions(p *Plan) map[Action]int {
	out := map[Action]int{}
	for _, c := range p.Changes {
		out[c.Action]++
	}
	return out
}
