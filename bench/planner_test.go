// Package bench holds deck's large-scale benchmarks. The planner's follow the shape of
// Nomad's scheduler benchmark: 10,000 hosts, one service of 1,200 tasks placed from empty.
package bench

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner"
	"github.com/deckhq/deck/planner/state"
	"github.com/deckhq/deck/providers"
)

const (
	benchHosts = 10_000
	benchRacks = 50
	benchTasks = 1_200
)

// benchObservation is 10,000 reachable, empty hosts of 4,096 cpu units (100 reserved) and
// 32,000 MiB, in 50 racks. It is built directly: observing fake hosts would only measure
// the fake.
func benchObservation() *providers.Observation {
	obs := &providers.Observation{App: "bench", Env: "bench", Hosts: make([]providers.HostObservation, benchHosts)}
	for i := range obs.Hosts {
		obs.Hosts[i] = providers.HostObservation{
			Spec: manifest.HostSpec{Name: fmt.Sprintf("host-%05d", i),
				Attributes: map[string]string{"rack": fmt.Sprintf("r%d", i%benchRacks)},
				Reserved:   manifest.Resources{CPU: 100}},
			Reachable: true,
			Info:      providers.HostInfo{Version: "5.4.0", Capacity: manifest.Resources{CPU: 4096, Memory: 32_000}},
		}
	}
	return obs
}

// benchService is 1,200 tasks of 1,755 cpu units and 6,000 MiB, constrained to the first
// 25 racks: about two tasks fit each eligible host (by cpu).
func benchService(spreadByRack bool) planner.Desired {
	racks := make([]string, benchRacks/2)
	for i := range racks {
		racks[i] = fmt.Sprintf("r%d", i)
	}
	placement := manifest.Placement{Strategy: "binpack",
		Constraints: []manifest.Constraint{{Kind: manifest.ConstraintIn, Attribute: "rack", Values: racks}}}
	if spreadByRack {
		placement.Strategy, placement.SpreadBy = "spread", []string{"rack"}
	}
	svc := manifest.ServiceSpec{App: "bench", Env: "bench", Name: "web", Type: manifest.BackendService,
		Task:       manifest.TaskDef{Image: "web:1", CPU: 1755, Memory: 6000},
		Count:      manifest.Count{Value: benchTasks},
		Deployment: manifest.Deployment{Strategy: "default", MinHealthyPercent: 100, MaxPercent: 200},
		Placement:  placement}
	return planner.Desired{Service: svc, Revision: planner.NewRevision(svc.Name, svc.Task)}
}

func benchSnapshot(tb testing.TB) *state.Snapshot {
	st, err := state.Load(benchObservation(), nil)
	require.NoError(tb, err)
	return st.Snapshot()
}

func benchPlace(b *testing.B, spreadByRack bool) {
	snap := benchSnapshot(b)
	desired := []planner.Desired{benchService(spreadByRack)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p, err := planner.Compute(desired, snap, planner.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Changes) != benchTasks {
			b.Fatalf("placed %d tasks, want %d", len(p.Changes), benchTasks)
		}
	}
	b.ReportMetric(float64(benchTasks*b.N)/b.Elapsed().Seconds(), "placements/s")
}

func BenchmarkPlaceBinpack(b *testing.B) { benchPlace(b, false) }

func BenchmarkPlaceSpreadByRack(b *testing.B) { benchPlace(b, true) }

// BenchmarkStateLoad measures building the state store of 10,000 hosts, which the
// placement benchmarks leave out.
func BenchmarkStateLoad(b *testing.B) {
	obs := benchObservation()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := state.Load(obs, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchHosts*b.N)/b.Elapsed().Seconds(), "hosts/s")
}

// TestBenchShape checks that the benchmarks measure what they claim: every task placed,
// only on eligible racks, within each host's room, and for spread an even share per rack.
func TestBenchShape(t *testing.T) {
	snap := benchSnapshot(t)
	for _, spread := range []bool{false, true} {
		t.Run(map[bool]string{false: "binpack", true: "spread"}[spread], func(t *testing.T) {
			p, err := planner.Compute([]planner.Desired{benchService(spread)}, snap, planner.Options{})
			require.NoError(t, err)
			require.Len(t, p.Changes, benchTasks)
			perHost, perRack := map[string]int{}, map[string]int{}
			for _, c := range p.Changes {
				assert.Equal(t, planner.Create, c.Action)
				h, ok := snap.Host(c.Host)
				require.True(t, ok)
				rack := h.Spec.Attributes["rack"]
				var n int
				_, err := fmt.Sscanf(strings.TrimPrefix(rack, "r"), "%d", &n)
				require.NoError(t, err)
				assert.Less(t, n, benchRacks/2, "task on rack %s, outside r0..r24", rack)
				perHost[c.Host]++
				perRack[rack]++
			}
			for host, n := range perHost {
				assert.LessOrEqual(t, n, 2, "host %s holds %d tasks: 2 x 1,755 cpu is all 3,996 allows", host, n)
			}
			if spread {
				assert.Len(t, perRack, benchRacks/2)
				for rack, n := range perRack {
					assert.Equal(t, benchTasks/(benchRacks/2), n, "rack %s", rack)
				}
				assert.Len(t, perHost, benchTasks, "spread puts one task per host while hosts are free")
			} else {
				assert.Len(t, perHost, benchTasks/2, "binpack fills each host before the next")
			}
		})
	}
}
