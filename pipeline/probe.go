package pipeline

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/deckhq/deck/planner/state"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/health"
)

// probeParallelism bounds the probes in flight at once across the fleet.
const probeParallelism = 32

// probeAll probes every running task once, concurrently, and classifies it: a task deck
// has not seen healthy now is starting (while younger than its health deadline) or
// unhealthy, never serving. This is what lets a rerun after a killed deploy tell the new
// tasks it never saw healthy from the old ones that serve.
func probeAll(ctx context.Context, fleet *providers.Fleet, obs *providers.Observation) map[string]state.TaskHealth {
	out := map[string]state.TaskHealth{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, probeParallelism)
	prober := health.Prober{}
	for _, ho := range obs.Hosts {
		h := fleet.Host(ho.Spec.Name)
		if !ho.Reachable || h == nil {
			continue
		}
		for _, t := range ho.Tasks {
			id := state.TaskID(ho.Spec.Name, t.ContainerID)
			if !t.Running() {
				mu.Lock()
				out[id] = state.TaskHealth{State: health.StateUnhealthy, Detail: t.State}
				mu.Unlock()
				continue
			}
			wg.Add(1)
			go func(t providers.Task, addr string) {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				th := probeOne(ctx, prober, h, t, addr)
				mu.Lock()
				out[id] = th
				mu.Unlock()
			}(t, taskAddress(ho.Spec.Address, t))
		}
	}
	wg.Wait()
	return out
}

func probeOne(ctx context.Context, p health.Prober, rt providers.Runtime, t providers.Task, addr string) state.TaskHealth {
	var hc = t.Meta.Spec
	if hc == nil {
		// No readable task definition: deck cannot know how to check it, so it never
		// counts as serving (it is replaced, like a task of another revision).
		return state.TaskHealth{State: health.StateUnhealthy, Detail: "no readable task definition"}
	}
	r := p.Probe(ctx, rt, t, hc.Healthcheck, addr)
	age := time.Since(t.StartedAt)
	if t.StartedAt.IsZero() {
		age = 0
	}
	return state.TaskHealth{State: health.Classify(r, true, age, hc.Healthcheck), Detail: r.Detail}
}

// taskAddress is address:published port of the task's service port, or "".
func taskAddress(address string, t providers.Task) string {
	if t.Meta.Port == 0 {
		return ""
	}
	if hp := t.HostPort(t.Meta.Port); hp != 0 {
		return address + ":" + strconv.Itoa(hp)
	}
	return ""
}
