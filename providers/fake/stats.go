package fake

import (
	"context"
	"time"

	"github.com/deckhq/deck/providers"
)

// usage is what a test says a container uses; its CPU time accrues on the host's clock.
type usage struct {
	vcpus  float64
	memory uint64
	cpu    time.Duration // CPU time used up to at
	at     time.Time
}

// SetUsage makes a container use vcpus (1 = one core busy) from now on, by the host's
// clock (SetClock), and memoryBytes of memory. A container without one uses nothing.
func (h *Host) SetUsage(containerID string, vcpus float64, memoryBytes uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.usage == nil {
		h.usage = map[string]*usage{}
	}
	now := h.now()
	u := h.usage[containerID]
	if u == nil {
		u = &usage{at: now}
		h.usage[containerID] = u
	}
	u.accrue(now)
	u.vcpus, u.memory = vcpus, memoryBytes
}

func (u *usage) accrue(now time.Time) {
	if now.After(u.at) {
		u.cpu += time.Duration(u.vcpus * float64(now.Sub(u.at)))
		u.at = now
	}
}

// Stats reads the running containers among ids, as Podman's one-shot stats would: CPU
// time as a counter, the memory limit from the task spec (or the host's memory).
func (h *Host) Stats(_ context.Context, ids []string) ([]providers.TaskStats, error) {
	if err := h.check("reading the stats of containers"); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	var out []providers.TaskStats
	for _, id := range ids {
		t := h.containers[id]
		if t == nil || !t.Running() {
			continue
		}
		s := providers.TaskStats{ContainerID: id, At: now, MemoryLimitBytes: uint64(h.info.Capacity.Memory) << 20}
		if mib := h.specs[id].MemoryMiB; mib > 0 {
			s.MemoryLimitBytes = uint64(mib) << 20
		}
		if u := h.usage[id]; u != nil {
			u.accrue(now)
			s.CPUTime, s.MemoryBytes = u.cpu, u.memory
		}
		out = append(out, s)
	}
	return out, nil
}
