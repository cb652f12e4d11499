package planner

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner/state"
)

// simulate runs a service's waves as the executor does (stop the stop-first olds, start
// the wave's tasks and wait for them, stop the other olds) and checks after every step
// that healthy tasks stay at or above minHealthy and running ones at or below maxRunning.
// It returns the waves' (stop-first, surge) replacement counts.
func simulate(t *testing.T, p *Plan, snap *state.Snapshot, svc string, minHealthy, maxRunning int) [][2]int {
	t.Helper()
	up := map[string]bool{} // running tasks, by host/container
	for _, ts := range snap.TasksByService(svc) {
		if ts.Running() && ts.HostReachable {
			up[ts.ID] = true
		}
	}
	healthy := len(up)
	floor := min(minHealthy, healthy) // a service already below min may not reach it at once
	var shape [][2]int
	for w := 0; w < p.Services[0].Waves; w++ {
		changes := p.ServiceChanges(svc, w)
		var stopFirst, surge int
		stopOld := func(c Change) {
			id := state.TaskID(c.Old.Host, c.Old.ContainerID)
			if up[id] {
				delete(up, id)
				healthy--
			}
		}
		for _, c := range changes {
			if c.Old != nil && c.StopFirst {
				stopOld(c)
				if c.Action == Replace {
					stopFirst++
				}
			}
		}
		if c := changes; len(c) > 0 && c[0].Action != Destroy {
			assert.GreaterOrEqual(t, healthy, floor, "wave %d: healthy after the first stops", w+1)
		}
		starting := 0
		for _, c := range changes {
			if c.Action != Destroy {
				starting++
			}
		}
		assert.LessOrEqual(t, healthy+starting, maxRunning, "wave %d: running while new tasks start", w+1)
		healthy += starting
		for _, c := range changes {
			if c.Old != nil && !c.StopFirst {
				stopOld(c)
				surge++
			}
		}
		assert.GreaterOrEqual(t, healthy, floor, "wave %d: healthy at the end", w+1)
		floor = minHealthy
		shape = append(shape, [2]int{stopFirst, surge})
	}
	return shape
}

func TestWavesKeepRollingLimits(t *testing.T) {
	cases := []struct {
		minPct, maxPct, count int
		want                  [][2]int // per wave: (stop-first, surge) replacements
		warn                  bool
	}{
		{100, 200, 4, [][2]int{{0, 4}}, false},
		{100, 200, 6, [][2]int{{0, 6}}, false},
		{0, 100, 4, [][2]int{{4, 0}}, false},
		{0, 100, 6, [][2]int{{6, 0}}, false},
		{50, 100, 4, [][2]int{{2, 0}, {2, 0}}, false},
		{50, 100, 6, [][2]int{{3, 0}, {3, 0}}, false},
		{50, 150, 4, [][2]int{{2, 2}}, false},
		{50, 150, 6, [][2]int{{3, 3}}, false},
		{100, 150, 4, [][2]int{{0, 2}, {0, 2}}, false},
		{75, 125, 4, [][2]int{{1, 1}, {1, 1}}, false},
		{100, 100, 1, [][2]int{{1, 0}}, true},
		{50, 100, 1, [][2]int{{1, 0}}, true},
		{100, 100, 3, [][2]int{{1, 0}, {1, 0}, {1, 0}}, true},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%d-%d-count%d", tc.minPct, tc.maxPct, tc.count), func(t *testing.T) {
			h := newHarness(t).hosts(tc.count, 8192, 16384)
			v1 := service("web", tc.count, webTask())
			for i := 1; i <= tc.count; i++ {
				h.run(fmt.Sprintf("h%d", i), v1.Revision, fmt.Sprintf("a%d", i))
			}
			td := webTask()
			td.Image = "web:2"
			snap := h.snapshot()
			p, err := Compute([]Desired{service("web", tc.count, td, withDeployment(tc.minPct, tc.maxPct))}, snap,
				Options{NewTaskID: sequentialIDs()})
			require.NoError(t, err)
			assert.Equal(t, tc.count, actions(p)[Replace])
			minHealthy, maxRunning := rollingLimits(manifest.Deployment{MinHealthyPercent: tc.minPct, MaxPercent: tc.maxPct}, tc.count)
			if tc.warn {
				require.Len(t, p.Warnings, 1)
				assert.Contains(t, p.Warnings[0], "cannot be kept")
				minHealthy-- // one task at a time, knowingly
			} else {
				assert.Empty(t, p.Warnings)
			}
			assert.Equal(t, tc.want, simulate(t, p, snap, "web", minHealthy, maxRunning))
			assert.Equal(t, len(tc.want), p.Services[0].Waves)
		})
	}
}

func TestWavesWithDeadTasksAndScaling(t *testing.T) {
	h := newHarness(t)
	for i := 1; i <= 4; i++ {
		h.host(fmt.Sprintf("h%d", i), 8192, 16384, nil)
	}
	v1 := service("web", 4, webTask())
	var dead string
	for i := 1; i <= 4; i++ {
		task := h.run(fmt.Sprintf("h%d", i), v1.Revision, fmt.Sprintf("a%d", i))
		if i == 4 {
			dead = task.ContainerID
		}
	}
	h.cloud.Host("h4").SetState(dead, "exited")
	td := webTask()
	td.Image = "web:2"
	snap := h.snapshot()
	// 50/100 at count 6: one dead task and two creates start at once; the three running
	// olds then go within the limits (min 3, max 6).
	p, err := Compute([]Desired{service("web", 6, td, withDeployment(50, 100))}, snap, Options{NewTaskID: sequentialIDs()})
	require.NoError(t, err)
	assert.Equal(t, map[Action]int{Create: 2, Replace: 4}, actions(p))
	for _, c := range p.ServiceChanges("web", 0) {
		if c.Old != nil && c.Old.TaskID == "a4" {
			assert.True(t, c.StopFirst, "a dead task is stopped first")
		}
	}
	assert.Equal(t, [][2]int{{1, 0}, {3, 0}}, simulate(t, p, snap, "web", 3, 6))
}
