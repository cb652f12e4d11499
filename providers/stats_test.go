package providers

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestCPURateAndPercents(t *testing.T) {
	at := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	prev := TaskStats{ContainerID: "a", CPUTime: time.Second, At: at}
	cur := TaskStats{ContainerID: "a", CPUTime: 4 * time.Second, At: at.Add(2 * time.Second)}
	rate, ok := CPURate(prev, cur)
	assert.True(t, ok)
	assert.InDelta(t, 1.5, rate, 1e-9)

	for name, c := range map[string]TaskStats{
		"another container": {ContainerID: "b", CPUTime: 4 * time.Second, At: at.Add(time.Second)},
		"no time between":   {ContainerID: "a", CPUTime: 4 * time.Second, At: at},
		"counter went back": {ContainerID: "a", CPUTime: 0, At: at.Add(time.Second)},
	} {
		_, ok := CPURate(prev, c)
		assert.False(t, ok, name)
	}

	pct, ok := CPUPercent(1.5, 512)
	assert.True(t, ok)
	assert.InDelta(t, 300, pct, 1e-9, "1.5 vCPU of half a vCPU reserved")
	_, ok = CPUPercent(1, 0)
	assert.False(t, ok)

	m := TaskStats{MemoryBytes: 96 << 20, MemoryLimitBytes: 1 << 30}
	pct, _ = MemoryPercent(m, 128)
	assert.InDelta(t, 75, pct, 1e-9, "the task's limit wins")
	pct, _ = MemoryPercent(m, 0)
	assert.InDelta(t, 9.375, pct, 1e-9, "else the container's")
	_, ok = MemoryPercent(TaskStats{MemoryBytes: 1}, 0)
	assert.False(t, ok)
}
