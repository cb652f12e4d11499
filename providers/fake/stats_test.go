package fake_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/fake"
)

func TestStatsAccrueCPUOnTheHostsClock(t *testing.T) {
	h := newHost(t)
	ctx := context.Background()
	clock := fake.NewClock(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
	h.SetClock(clock.Now)
	busy, err := h.Run(ctx, providers.TaskSpec{Name: "busy", Image: "img", MemoryMiB: 256})
	require.NoError(t, err)
	idle, err := h.Run(ctx, providers.TaskSpec{Name: "idle", Image: "img"})
	require.NoError(t, err)
	stopped, err := h.Run(ctx, providers.TaskSpec{Name: "stopped", Image: "img"})
	require.NoError(t, err)
	require.NoError(t, h.Stop(ctx, stopped.ContainerID, 0))
	h.SetUsage(busy.ContainerID, 1.5, 128<<20)

	ids := []string{busy.ContainerID, idle.ContainerID, stopped.ContainerID, "gone"}
	first, err := h.Stats(ctx, ids)
	require.NoError(t, err)
	require.Len(t, first, 2, "stopped and missing containers are left out")
	clock.Advance(10 * time.Second)
	h.SetUsage(busy.ContainerID, 0.5, 64<<20) // the rate changes: 1.5 for 10s, then 0.5 for 10s
	clock.Advance(10 * time.Second)
	second, err := h.Stats(ctx, ids)
	require.NoError(t, err)

	rate, ok := providers.CPURate(first[0], second[0])
	require.True(t, ok)
	assert.InDelta(t, 1.0, rate, 1e-9)
	assert.Equal(t, uint64(64<<20), second[0].MemoryBytes)
	assert.Equal(t, uint64(256<<20), second[0].MemoryLimitBytes, "the task's limit")
	assert.Equal(t, uint64(4096<<20), second[1].MemoryLimitBytes, "no limit: the host's memory")
	idleRate, ok := providers.CPURate(first[1], second[1])
	require.True(t, ok)
	assert.Zero(t, idleRate)

	h.SetDown(true)
	_, err = h.Stats(ctx, ids)
	assert.ErrorIs(t, err, providers.ErrUnreachable)
}
