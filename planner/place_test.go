package planner

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers/health"
)

func TestNoHostFitsExplainsEachReason(t *testing.T) {
	h := newHarness(t)
	h.host("h1", 4096, 800, map[string]string{"zone": "a"})
	h.host("h2", 4096, 800, map[string]string{"zone": "a"})
	h.host("h3", 4096, 8192, map[string]string{"zone": "b"})
	h.host("h4", 4096, 8192, map[string]string{"zone": "b"})
	h.host("h5", 4096, 8192, nil)
	h.host("h6", 4096, 8192, map[string]string{"zone": "a"})
	h.lost["h6"] = true
	web := service("web", 6, webTask(), withPlacement(manifest.Placement{
		Constraints: []manifest.Constraint{{Kind: manifest.ConstraintIn, Attribute: "zone", Values: []string{"a"}}}}))
	other := service("other", 1, manifest.TaskDef{Image: "web:1", CPU: 10, Memory: 300})
	h.run("h1", other.Revision, "o1") // h1 has 500 MiB left, h2 800

	_, err := h.compute(Options{}, web, other)
	// h1 (500 MiB free) takes none, h2 (800) one: task 2 finds no room.
	assert.EqualError(t, err, "service web: cannot place task 2 of 6: no host fits: "+
		"2 hosts lack memory (need 512 MiB, most free 500 MiB), 1 host unreachable, 3 hosts fail constraint zone in [a]")
}

func TestNoHostFitsCPUAndEmptyEnvironment(t *testing.T) {
	h := newHarness(t).hosts(2, 300, 8192)
	_, err := h.compute(Options{}, service("web", 1, webTask(), func(s *manifest.ServiceSpec) { s.Task.CPU = 512 }))
	assert.EqualError(t, err, "service web: cannot place task 1 of 1: no host fits: 2 hosts lack cpu (need 512 units, most free 300)")

	_, err = newHarness(t).compute(Options{}, service("web", 1, webTask()))
	assert.EqualError(t, err, "service web: cannot place task 1 of 1: no host fits: the environment has no hosts")
}

func TestFixedHostPortConflicts(t *testing.T) {
	h := newHarness(t).hosts(3, 8192, 16384)
	td := webTask()
	td.HostPort = 80
	other := service("other", 1, td)
	h.run("h1", other.Revision, "o1") // binds port 80 on h1

	p := h.plan(service("web", 2, td), other)
	assert.Equal(t, map[string]int{"h2": 1, "h3": 1}, hostsOf(p), "h1's port 80 is taken, one task per host")

	_, err := h.compute(Options{}, service("web", 3, td), other)
	assert.EqualError(t, err, "service web: cannot place task 3 of 3: no host fits: 3 hosts have host port 80 in use")
}

func TestFixedHostPortReplacedInPlaceWhenStoppedFirst(t *testing.T) {
	h := newHarness(t).hosts(1, 8192, 16384)
	td := webTask()
	td.HostPort = 80
	v1 := service("web", 1, td)
	h.run("h1", v1.Revision, "a1")
	td.Image = "web:2"

	// 100/200 would start the new task next to the old one: port 80 is taken, and min
	// healthy 100 forbids stopping the old one first.
	_, err := h.compute(Options{}, service("web", 1, td))
	assert.EqualError(t, err, "service web: no room to start a replacement: 1 host has host port 80 in use; "+
		"min_healthy_percent 100 keeps its only task running: "+
		"free capacity on the hosts, or lower deployment.min_healthy_percent so deck can stop tasks first")

	// recreate stops the old task first, freeing the port.
	p := h.plan(service("web", 1, td, func(s *manifest.ServiceSpec) {
		s.Deployment = manifest.Deployment{Strategy: "recreate", MinHealthyPercent: 0, MaxPercent: 100}
	}))
	require.Len(t, p.Changes, 1)
	assert.Equal(t, "h1", p.Changes[0].Host)
	assert.True(t, p.Changes[0].StopFirst)
}

func TestConstraints(t *testing.T) {
	cases := []struct {
		name       string
		count      int
		constraint manifest.Constraint
		want       map[string]int
		err        string
	}{
		{name: "distinct_host", count: 4, constraint: manifest.Constraint{Kind: manifest.ConstraintDistinctHost},
			want: map[string]int{"h2": 1, "h3": 1, "h4": 1}}, // h1 already runs one
		{name: "distinct_host full", count: 5, constraint: manifest.Constraint{Kind: manifest.ConstraintDistinctHost},
			err: "service web: cannot place task 5 of 5: no host fits: 4 hosts already run a task of web (distinct_host)"},
		{name: "equals", count: 4, constraint: manifest.Constraint{Kind: manifest.ConstraintEquals, Attribute: "zone", Values: []string{"b"}},
			want: map[string]int{"h3": 2, "h4": 1}},
		{name: "in", count: 4, constraint: manifest.Constraint{Kind: manifest.ConstraintIn, Attribute: "zone", Values: []string{"a", "c"}},
			want: map[string]int{"h1": 1, "h2": 2}}, // h1 already runs one
		{name: "missing attribute", count: 2, constraint: manifest.Constraint{Kind: manifest.ConstraintEquals, Attribute: "gpu", Values: []string{"yes"}},
			err: "service web: cannot place task 2 of 2: no host fits: 4 hosts fail constraint gpu = yes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.host("h1", 8192, 16384, map[string]string{"zone": "a"})
			h.host("h2", 8192, 16384, map[string]string{"zone": "c"})
			h.host("h3", 8192, 16384, map[string]string{"zone": "b"})
			h.host("h4", 8192, 16384, map[string]string{"zone": "b"})
			web := service("web", tc.count, webTask(), withPlacement(manifest.Placement{
				Constraints: []manifest.Constraint{tc.constraint}}))
			h.run("h1", web.Revision, "a1")
			p, err := h.compute(Options{}, web)
			if tc.err != "" {
				assert.EqualError(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, hostsOf(p))
		})
	}
}

func TestSpreadAcrossHosts(t *testing.T) {
	h := newHarness(t).hosts(4, 8192, 16384)
	p := h.plan(service("web", 10, webTask()))
	assert.Equal(t, map[string]int{"h1": 3, "h2": 3, "h3": 2, "h4": 2}, hostsOf(p))
}

func TestSpreadAcrossAttributeValues(t *testing.T) {
	h := newHarness(t)
	// zone a has three hosts, zone b one: spread by zone balances the zones first.
	h.host("h1", 8192, 16384, map[string]string{"zone": "a"})
	h.host("h2", 8192, 16384, map[string]string{"zone": "a"})
	h.host("h3", 8192, 16384, map[string]string{"zone": "a"})
	h.host("h4", 8192, 16384, map[string]string{"zone": "b"})
	p := h.plan(service("web", 6, webTask(), withPlacement(manifest.Placement{Strategy: "spread", SpreadBy: []string{"zone"}})))
	assert.Equal(t, map[string]int{"h1": 1, "h2": 1, "h3": 1, "h4": 3}, hostsOf(p))
}

func TestSpreadCountsKeptTasks(t *testing.T) {
	h := newHarness(t)
	h.host("h1", 8192, 16384, map[string]string{"zone": "a"})
	h.host("h2", 8192, 16384, map[string]string{"zone": "b"})
	h.host("h3", 8192, 16384, map[string]string{"zone": "b"})
	web := service("web", 4, webTask(), withPlacement(manifest.Placement{SpreadBy: []string{"zone"}}))
	h.run("h1", web.Revision, "a1")
	h.run("h1", web.Revision, "a2")
	p := h.plan(web)
	assert.Equal(t, map[string]int{"h2": 1, "h3": 1}, hostsOf(p))
}

func TestBinpackFillsAHostFirst(t *testing.T) {
	h := newHarness(t)
	h.host("h1", 8192, 4096, nil)
	h.host("h2", 8192, 2048, nil) // the fullest host is filled first
	h.host("h3", 8192, 4096, nil)
	p := h.plan(service("web", 9, webTask(), withPlacement(manifest.Placement{Strategy: "binpack"})))
	// 512 MiB each: h2 takes 4, then h1 (name before h3) takes 5 of its 8.
	assert.Equal(t, map[string]int{"h2": 4, "h1": 5}, hostsOf(p))
}

func TestResourcesOfRunningTasksAreCounted(t *testing.T) {
	h := newHarness(t).hosts(2, 8192, 1024)
	other := service("other", 1, manifest.TaskDef{Image: "web:1", CPU: 10, Memory: 1000})
	h.run("h1", other.Revision, "o1")
	p := h.plan(service("web", 2, webTask()), other)
	assert.Equal(t, map[string]int{"h2": 2}, hostsOf(p))
}

func TestPlacementScalesPastManyHosts(t *testing.T) {
	// A smoke test of the rank tree's heaps: many hosts, groups, removals and re-adds.
	h := newHarness(t)
	for i := 0; i < 60; i++ {
		h.host(fmt.Sprintf("h%02d", i), 1024, 2048, map[string]string{"rack": fmt.Sprintf("r%d", i%7)})
	}
	p := h.plan(service("web", 200, manifest.TaskDef{Image: "web:1", CPU: 256, Memory: 512},
		withPlacement(manifest.Placement{SpreadBy: []string{"rack"}})))
	perRack := map[string]int{}
	for host, n := range hostsOf(p) {
		var i int
		fmt.Sscanf(host, "h%d", &i)
		perRack[fmt.Sprintf("r%d", i%7)] += n
		assert.LessOrEqual(t, n, 4)
	}
	for _, n := range perRack {
		assert.InDelta(t, 200.0/7, n, 1)
	}
}

// A task failing its health checks on h2 (whose ports may not answer) is replaced on
// another host while one fits; with none left, on h2 after all.
func TestReplacementOfAnUnhealthyTaskAvoidsItsHost(t *testing.T) {
	h := newHarness(t).hosts(3, 8192, 16384)
	web := service("web", 3, webTask())
	h.run("h1", web.Revision, "a")
	h.run("h2", web.Revision, "sick")
	h.run("h3", web.Revision, "c")
	h.health["sick"] = health.StateUnhealthy
	p := h.plan(web)
	require.Len(t, p.Changes, 1)
	assert.Equal(t, "sick", p.Changes[0].Old.TaskID)
	assert.NotEqual(t, "h2", p.Changes[0].Host, "not back on the host where it failed")

	h = newHarness(t).hosts(1, 8192, 16384)
	web = service("web", 1, webTask())
	h.run("h1", web.Revision, "sick")
	h.health["sick"] = health.StateUnhealthy
	p = h.plan(web)
	require.Len(t, p.Changes, 1)
	assert.Equal(t, "h1", p.Changes[0].Host, "the only host left")
}

// An exited task is more often the app's doing: its replacement is placed as usual
// (here back on h2, the host with the fewest tasks).
func TestReplacementOfAnExitedTaskIsPlacedAsUsual(t *testing.T) {
	h := newHarness(t).hosts(2, 8192, 16384)
	web := service("web", 2, webTask())
	h.run("h1", web.Revision, "a")
	dead := h.run("h2", web.Revision, "dead")
	h.cloud.Host("h2").SetState(dead.ContainerID, "exited")
	p := h.plan(web)
	var hosts []string
	for _, c := range p.Changes {
		if c.Action != Destroy {
			hosts = append(hosts, c.Host)
		}
	}
	assert.Equal(t, []string{"h2"}, hosts)
}
