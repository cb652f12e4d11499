package podman

import (
	"context"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/providers"
)

// TestStatsSeeABusyAndAnIdleTask reads one-shot stats of a task that keeps a core busy, one
// that holds memory and idles, and the test image's idle HTTP server, and checks the
// percentages autoscaling works out from two readings.
func TestStatsSeeABusyAndAnIdleTask(t *testing.T) {
	h, _ := hosts(t)
	busySpec := jobSpec(unique("busy"), "-burn", "2m")
	busySpec.CPUShares = 256 // a quarter of a vCPU reserved: one busy core is 400%
	memSpec := jobSpec(unique("mem"), "-alloc", "40", "-hold", "2m")
	memSpec.MemoryMiB = 64
	idleSpec := taskSpec(unique("idle"), unique("app"))
	idleSpec.CPUShares = 1024
	var ids []string
	for _, spec := range []providers.TaskSpec{busySpec, memSpec, idleSpec} {
		task := run(t, h, spec)
		t.Cleanup(func() { _ = h.Stop(context.Background(), task.ContainerID, 0) })
		ids = append(ids, task.ContainerID)
	}
	busy, mem, idle := ids[0], ids[1], ids[2]
	waitResident(t, h, mem, 35<<20)

	first := statsByID(t, h, ids)
	second := first
	for deadline := time.Now().Add(20 * time.Second); second[busy].At.Sub(first[busy].At) < 2*time.Second; time.Sleep(200 * time.Millisecond) {
		require.True(t, time.Now().Before(deadline), "the host's reading time did not move on")
		second = statsByID(t, h, ids)
	}

	busyRate, ok := providers.CPURate(first[busy], second[busy])
	require.True(t, ok)
	busyPct, _ := providers.CPUPercent(busyRate, busySpec.CPUShares)
	idleRate, ok := providers.CPURate(first[idle], second[idle])
	require.True(t, ok)
	idlePct, _ := providers.CPUPercent(idleRate, idleSpec.CPUShares)
	t.Logf("busy task: %.2f vCPU = %.0f%% of its 256 units; idle server: %.3f vCPU = %.1f%% of 1024", busyRate, busyPct, idleRate, idlePct)
	// The machine has 2 cores shared with other work: a busy loop gets at least half a core.
	assert.Greater(t, busyRate, 0.5)
	assert.Greater(t, busyPct, 200.0)
	assert.Less(t, idlePct, 5.0)

	memPct, ok := providers.MemoryPercent(second[mem], memSpec.MemoryMiB)
	require.True(t, ok)
	t.Logf("memory task: %d MiB in use of a %d MiB limit: %.0f%%", second[mem].MemoryBytes>>20, second[mem].MemoryLimitBytes>>20, memPct)
	assert.Equal(t, uint64(64<<20), second[mem].MemoryLimitBytes, "the limit Podman reports is the task's")
	assert.InDelta(t, 70, memPct, 25, "40 MiB of 64 held")
	idleMem, _ := providers.MemoryPercent(second[idle], 0)
	assert.Less(t, idleMem, 5.0, "no limit: relative to the host's memory")

	logServerCPU(t, h, busy)
}

// TestStatsLeaveOutStoppedAndMissingContainers: Podman fails a whole call for one stopped or
// missing container; Stats still reads the others.
func TestStatsLeaveOutStoppedAndMissingContainers(t *testing.T) {
	h, _ := hosts(t)
	ctx := testCtx(t)
	running := run(t, h, taskSpec(unique("up"), unique("app")))
	stopped := run(t, h, taskSpec(unique("down"), unique("app")))
	require.NoError(t, h.Stop(ctx, stopped.ContainerID, 0))
	missing := "0123456789ab0123456789ab0123456789ab0123456789ab0123456789abcdef"

	got, err := h.Stats(ctx, []string{running.ContainerID, stopped.ContainerID, missing})
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, running.ContainerID, got[0].ContainerID)
	assert.Positive(t, got[0].MemoryBytes)

	got, err = h.Stats(ctx, []string{stopped.ContainerID})
	require.NoError(t, err)
	assert.Empty(t, got)
}

func statsByID(t *testing.T, h *Host, ids []string) map[string]providers.TaskStats {
	t.Helper()
	list, err := h.Stats(testCtx(t), ids)
	require.NoError(t, err)
	out := map[string]providers.TaskStats{}
	for _, s := range list {
		out[s.ContainerID] = s
	}
	require.Len(t, out, len(ids), "every running container has a reading")
	return out
}

// waitResident waits until the container uses at least bytes of memory (its allocation
// is done).
func waitResident(t *testing.T, h *Host, id string, bytes uint64) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		got := statsByID(t, h, []string{id})
		if got[id].MemoryBytes >= bytes {
			return
		}
		require.True(t, time.Now().Before(deadline), "the task holds %d bytes, not %d", got[id].MemoryBytes, bytes)
	}
}

// logServerCPU records what the server's own one-shot CPU percent says of the busy task:
// on Podman 4.3 it is measured against an empty previous reading, which is why deck
// takes the difference of two readings instead.
func logServerCPU(t *testing.T, h *Host, id string) {
	ch, err := containers.Stats(h.call(testCtx(t)), []string{id}, new(containers.StatsOptions).WithStream(false))
	require.NoError(t, err)
	for r := range ch {
		for _, s := range r.Stats {
			t.Logf("the server's one-shot CPU of the busy task: %.4f%% (avg %.4f%%)", s.CPU, s.AvgCPU)
		}
	}
}
