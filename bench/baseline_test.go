package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/planner"
)

// scanHost is one host as the baseline placer sees it.
type scanHost struct {
	name      string
	rack      string
	free      [2]int64 // cpu, memory
	tasks     int
	rackIndex int
}

// scanPlace is the straightforward placer, the one deck's planner is measured against: for
// every task it scans every host, filters (constraint, cpu, memory) and ranks (spread: fewest
// tasks in the host's rack, then on the host; binpack: least free memory, then cpu). It is
// correct and simple, and costs a scan of all hosts per placement, which is what deck's
// planner avoids. It returns the chosen host of each task.
func scanPlace(hosts []scanHost, tasks int, cpu, mem int64, eligibleRacks int, spread bool) []string {
	perRack := make([]int, benchRacks)
	out := make([]string, 0, tasks)
	for t := 0; t < tasks; t++ {
		best := -1
		for i := range hosts {
			h := &hosts[i]
			if h.rackIndex >= eligibleRacks || h.free[0] < cpu || h.free[1] < mem {
				continue
			}
			if best < 0 || better(h, &hosts[best], perRack, spread) {
				best = i
			}
		}
		if best < 0 {
			return out
		}
		h := &hosts[best]
		h.free[0] -= cpu
		h.free[1] -= mem
		h.tasks++
		perRack[h.rackIndex]++
		out = append(out, h.name)
	}
	return out
}

func better(a, b *scanHost, perRack []int, spread bool) bool {
	if spread {
		if perRack[a.rackIndex] != perRack[b.rackIndex] {
			return perRack[a.rackIndex] < perRack[b.rackIndex]
		}
		return a.tasks < b.tasks
	}
	if a.free[1] != b.free[1] {
		return a.free[1] < b.free[1]
	}
	return a.free[0] < b.free[0]
}

func scanHosts() []scanHost {
	obs := benchObservation()
	hosts := make([]scanHost, len(obs.Hosts))
	for i, h := range obs.Hosts {
		c, _ := h.Capacity()
		hosts[i] = scanHost{name: h.Spec.Name, rack: h.Spec.Attributes["rack"], free: [2]int64{c.CPU, c.Memory}, rackIndex: i % benchRacks}
	}
	return hosts
}

// benchVsScan times deck's planner and the scanning baseline on the same shape, in the same
// run, and reports both rates and their ratio.
func benchVsScan(b *testing.B, spread bool) {
	snap := benchSnapshot(b)
	desired := []planner.Desired{benchService(spread)}
	svc := desired[0].Service.Task
	var deckTime, scanTime time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		p, err := planner.Compute(desired, snap, planner.Options{})
		deckTime += time.Since(start)
		if err != nil || len(p.Changes) != benchTasks {
			b.Fatalf("deck placed %d tasks (%v)", len(p.Changes), err)
		}
		b.StopTimer()
		hosts := scanHosts()
		b.StartTimer()
		start = time.Now()
		placed := scanPlace(hosts, benchTasks, svc.CPU, svc.Memory, benchRacks/2, spread)
		scanTime += time.Since(start)
		if len(placed) != benchTasks {
			b.Fatalf("baseline placed %d tasks", len(placed))
		}
	}
	deckRate := float64(benchTasks*b.N) / deckTime.Seconds()
	scanRate := float64(benchTasks*b.N) / scanTime.Seconds()
	b.ReportMetric(deckRate, "deck-placements/s")
	b.ReportMetric(scanRate, "scan-placements/s")
	b.ReportMetric(deckRate/scanRate, "x-vs-scan")
}

// BenchmarkVsScanBinpack and BenchmarkVsScanSpreadByRack print deck's placement rate as a
// ratio to the scanning baseline measured in the same run.
func BenchmarkVsScanBinpack(b *testing.B)      { benchVsScan(b, false) }
func BenchmarkVsScanSpreadByRack(b *testing.B) { benchVsScan(b, true) }

// TestScanBaselineAgreesWithThePlanner checks that the baseline solves the same problem:
// every task placed, the same spread over racks, the same number of hosts used by binpack.
func TestScanBaselineAgreesWithThePlanner(t *testing.T) {
	snap := benchSnapshot(t)
	for _, spread := range []bool{false, true} {
		p, err := planner.Compute([]planner.Desired{benchService(spread)}, snap, planner.Options{})
		require.NoError(t, err)
		svc := benchService(spread).Service.Task
		placed := scanPlace(scanHosts(), benchTasks, svc.CPU, svc.Memory, benchRacks/2, spread)
		require.Len(t, placed, benchTasks)
		deckHosts, scanHostsUsed := map[string]int{}, map[string]int{}
		for _, c := range p.Changes {
			deckHosts[c.Host]++
		}
		for _, h := range placed {
			scanHostsUsed[h]++
		}
		assert.Equal(t, len(deckHosts), len(scanHostsUsed), "spread=%v: hosts used", spread)
	}
}
