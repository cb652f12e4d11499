package planner

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner/state"
)

// assertFits replays a service's waves against the hosts' cpu and memory as the executor
// runs them (stop-first olds free their room before the wave starts, new tasks take theirs,
// the other olds free theirs once the wave is healthy) and checks no host goes over.
func assertFits(t *testing.T, p *Plan, snap *state.Snapshot, svc string) {
	t.Helper()
	free := map[string]manifest.Resources{}
	for _, h := range snap.Hosts() {
		free[h.Name] = h.Capacity
	}
	for _, ts := range snap.Tasks() {
		if ts.Running() && ts.HostReachable {
			r := taskResources(ts)
			free[ts.Host] = manifest.Resources{CPU: free[ts.Host].CPU - r.CPU, Memory: free[ts.Host].Memory - r.Memory}
		}
	}
	stop := func(c Change) {
		ts, ok := snap.Task(state.TaskID(c.Old.Host, c.Old.ContainerID))
		if ok && ts.Running() && ts.HostReachable {
			r := taskResources(ts)
			free[ts.Host] = manifest.Resources{CPU: free[ts.Host].CPU + r.CPU, Memory: free[ts.Host].Memory + r.Memory}
		}
	}
	for w := 0; w < p.Services[0].Waves; w++ {
		changes := p.ServiceChanges(svc, w)
		for _, c := range changes {
			if c.Old != nil && c.StopFirst {
				stop(c)
			}
		}
		for _, c := range changes {
			if c.Action == Destroy {
				continue
			}
			td := p.Revisions[c.Revision].Task
			f := free[c.Host]
			free[c.Host] = manifest.Resources{CPU: f.CPU - td.CPU, Memory: f.Memory - td.Memory}
			assert.GreaterOrEqual(t, free[c.Host].Memory, int64(0), "wave %d: host %s out of memory", w, c.Host)
			assert.GreaterOrEqual(t, free[c.Host].CPU, int64(0), "wave %d: host %s out of cpu", w, c.Host)
		}
		for _, c := range changes {
			if c.Old != nil && !c.StopFirst {
				stop(c)
			}
		}
	}
}

// tightHarness runs 4 web:1 tasks of 512 MiB on two hosts of the given memory, two each.
func tightHarness(t *testing.T, memory int64) *harness {
	h := newHarness(t).hosts(2, 8192, memory)
	v1 := service("web", 4, webTask())
	for i := 1; i <= 4; i++ {
		h.run(fmt.Sprintf("h%d", (i+1)/2), v1.Revision, fmt.Sprintf("a%d", i))
	}
	return h
}

func newWeb(count int, edit ...func(*manifest.ServiceSpec)) Desired {
	td := webTask()
	td.Image = "web:2"
	return service("web", count, td, edit...)
}

func TestSurgeWavesFitTheRoomLeft(t *testing.T) {
	// One 512 MiB slot free per host: 100/200 allows 4 surge tasks, but only 2 fit. ECS
	// starts 2, stops the 2 olds they replace, then does the other 2.
	h := tightHarness(t, 1536)
	snap := h.snapshot()
	p, err := Compute([]Desired{newWeb(4)}, snap, Options{NewTaskID: sequentialIDs()})
	require.NoError(t, err)
	assert.Equal(t, [][2]int{{0, 2}, {0, 2}}, simulate(t, p, snap, "web", 4, 8))
	assertFits(t, p, snap, "web")
	assert.Equal(t, 2, p.Services[0].Waves)
	for _, c := range p.Changes {
		assert.Equal(t, c.Old.Host, c.Host, "each new task takes the room of the old task it replaces")
	}
}

func TestSurgeWavesKeepWaveZeroExtras(t *testing.T) {
	// A count increase starts its new task in wave 0 with what surge room is left.
	h := tightHarness(t, 1536)
	snap := h.snapshot()
	p, err := Compute([]Desired{newWeb(5)}, snap, Options{NewTaskID: sequentialIDs()})
	require.NoError(t, err)
	assert.Equal(t, map[Action]int{Create: 1, Replace: 4}, actions(p))
	for _, c := range p.Changes {
		if c.Action == Create {
			assert.Equal(t, 0, c.Wave)
		}
	}
	// One slot is free: wave 0 holds the create and one surge, then one surge a wave.
	assert.Equal(t, [][2]int{{0, 1}, {0, 1}, {0, 1}, {0, 1}}, simulate(t, p, snap, "web", 4, 10))
	assertFits(t, p, snap, "web")
}

func TestStopFirstWhenNoRoomToSurge(t *testing.T) {
	// No room at all: 50/200 lets deck stop 2 tasks first and start their replacements in
	// their room, twice.
	h := tightHarness(t, 1024)
	snap := h.snapshot()
	p, err := Compute([]Desired{newWeb(4, withDeployment(50, 200))}, snap, Options{NewTaskID: sequentialIDs()})
	require.NoError(t, err)
	assert.Equal(t, [][2]int{{2, 0}, {2, 0}}, simulate(t, p, snap, "web", 2, 8))
	assertFits(t, p, snap, "web")
	assert.Empty(t, p.Warnings)
}

func TestNoRoomAndMinHealthyBlocks(t *testing.T) {
	h := tightHarness(t, 1024)
	_, err := h.compute(Options{}, newWeb(4))
	assert.EqualError(t, err, "service web: no room to start a replacement: 2 hosts lack memory "+
		"(need 512 MiB, most free 0 MiB); min_healthy_percent 100 keeps all 4 tasks running: "+
		"free capacity on the hosts, or lower deployment.min_healthy_percent so deck can stop tasks first")
}
