package providers

import (
	"context"
	"time"
)

// Stats reads what running containers use, for autoscaling.
type Stats interface {
	// Stats reads each container once (no stream). Containers that are gone or not
	// running are left out of the result, not an error: a task may stop between the list
	// and the read. The error is for the host (unreachable) or the call as a whole.
	Stats(ctx context.Context, containerIDs []string) ([]TaskStats, error)
}

// TaskStats is one reading of a running container.
//
// CPU is a cumulative counter, not a rate: Podman 4.3's one-shot reading computes its
// own CPU percent against an empty previous reading, so the only sound rate is the
// difference of two readings (CPURate).
type TaskStats struct {
	ContainerID string
	// CPUTime is the CPU time the container has used since it started, all cores summed.
	CPUTime time.Duration
	// At is when the host took the reading, by its clock.
	At time.Time
	// MemoryBytes is the memory in use now; MemoryLimitBytes the container's limit (the
	// host's memory when it has none).
	MemoryBytes      uint64
	MemoryLimitBytes uint64
}

// CPURate is the CPU a container used between two of its readings, in vCPUs (1 = one
// core busy all the time). ok is false when the readings cannot give a rate: another
// container, no time between them, or a counter that went back (a restart).
func CPURate(prev, cur TaskStats) (vcpus float64, ok bool) {
	elapsed := cur.At.Sub(prev.At)
	used := cur.CPUTime - prev.CPUTime
	if prev.ContainerID != cur.ContainerID || elapsed <= 0 || used < 0 {
		return 0, false
	}
	return float64(used) / float64(elapsed), true
}

// CPUPercent is a CPU rate relative to a task's cpu reservation in ECS units (1024 = one
// vCPU), as ECS's CPUUtilization: a task reserving 256 units that keeps one core busy is
// at 400%. ok is false without a reservation.
func CPUPercent(vcpus float64, cpuUnits int64) (float64, bool) {
	if cpuUnits <= 0 {
		return 0, false
	}
	return vcpus / (float64(cpuUnits) / 1024) * 100, true
}

// MemoryPercent is the memory in use relative to the task's memory limit in MiB, or to the
// container's own limit when the task sets none.
func MemoryPercent(s TaskStats, memoryMiB int64) (float64, bool) {
	limit := float64(s.MemoryLimitBytes)
	if memoryMiB > 0 {
		limit = float64(memoryMiB) * 1024 * 1024
	}
	if limit <= 0 {
		return 0, false
	}
	return float64(s.MemoryBytes) / limit * 100, true
}
