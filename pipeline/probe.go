package pipeline

import (
	"context"
	"sync"
	"time"

	"github.com/deckhq/deck/planner/state"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/health"
)

// probeParallelism bounds the probes in flight at once across the fleet. A probe mostly
// waits on the network, so a whole fleet's worth go at once.
const probeParallelism = 256

// prober probes running tasks, bounded to probeParallelism at once across the fleet, and
// keeps what it saw by task id. A task deck has not seen healthy now is starting (while
// younger than its health deadline) or unhealthy, never serving. This is what lets a rerun
// after a killed deploy tell the new tasks it never saw healthy from the old ones that serve.
type prober struct {
	sem  chan struct{}
	mu   sync.Mutex
	seen map[string]state.TaskHealth
	p    health.Prober
}

// newProber makes a prober; tasks, when known, is how many tasks it will see.
func newProber(tasks int) *prober {
	return &prober{sem: make(chan struct{}, probeParallelism), seen: make(map[string]state.TaskHealth, tasks)}
}

// host probes one host's running tasks concurrently and returns when all are probed.
func (pr *prober) host(ctx context.Context, h providers.Host, ho *providers.HostObservation) {
	var wg sync.WaitGroup
	for i := range ho.Tasks {
		t := &ho.Tasks[i] // not copied into each probe's goroutine: nothing changes it meanwhile
		id := state.TaskID(ho.Spec.Name, t.ContainerID)
		if t.Meta.Kind != "" {
			continue // a job run or a standalone task: it runs to its end, nothing serves
		}
		if !t.Running() {
			pr.put(id, state.TaskHealth{State: health.StateUnhealthy, Detail: t.State})
			continue
		}
		// The slot is taken before the goroutine starts, not by it: a host of thousands
		// of tasks would otherwise hold a parked goroutine (and its stack) per task.
		pr.sem <- struct{}{}
		wg.Add(1)
		go func(addr string) {
			defer wg.Done()
			defer func() { <-pr.sem }()
			pr.put(id, probeOne(ctx, pr.p, h, t, addr))
		}(t.Address(ho.Spec.Address))
	}
	wg.Wait()
}

func (pr *prober) put(id string, th state.TaskHealth) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.seen[id] = th
}

// probeAll probes every running task of obs, hosts in parallel.
func probeAll(ctx context.Context, fleet *providers.Fleet, obs *providers.Observation) map[string]state.TaskHealth {
	n := 0
	for _, ho := range obs.Hosts {
		n += len(ho.Tasks)
	}
	pr := newProber(n) // sized once, not grown a task at a time
	var wg sync.WaitGroup
	for i := range obs.Hosts {
		ho := &obs.Hosts[i]
		h := fleet.Host(ho.Spec.Name)
		if !ho.Reachable || h == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			pr.host(ctx, h, ho)
		}()
	}
	wg.Wait()
	return pr.seen
}

func probeOne(ctx context.Context, p health.Prober, rt providers.Runtime, t *providers.Task, addr string) state.TaskHealth {
	td := t.Meta.Spec
	if td == nil {
		// No readable task definition: deck cannot know how to check it, so it never
		// counts as serving (it is replaced, like a task of another revision).
		return state.TaskHealth{State: health.StateUnhealthy, Detail: "no readable task definition"}
	}
	r := p.Probe(ctx, rt, *t, td.Healthcheck, addr)
	age := time.Since(t.StartedAt)
	if t.StartedAt.IsZero() {
		age = 0
	}
	return state.TaskHealth{State: health.Classify(r, true, age, td.Healthcheck), Detail: r.Detail}
}
