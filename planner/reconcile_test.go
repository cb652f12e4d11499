package planner

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
)

func TestNoChangesWhenTasksMatch(t *testing.T) {
	h := newHarness(t).hosts(2, 4096, 8192)
	web := service("web", 2, webTask())
	h.run("h1", web.Revision, "a1")
	h.run("h2", web.Revision, "a2")

	p := h.plan(web)
	assert.True(t, p.Empty(), "%+v", p.Changes)
	require.Len(t, p.Services, 1)
	assert.Equal(t, ServicePlan{Name: "web", Type: manifest.LoadBalancedWebService, Revision: web.Revision.ID,
		Desired: 2, Running: 2, Keep: 2,
		Deployment: manifest.Deployment{Strategy: "default", MinHealthyPercent: 100, MaxPercent: 200}, BreakerThreshold: 3}, p.Services[0])
	assert.Empty(t, p.Revisions)
	assert.Equal(t, FormatVersion, p.FormatVersion)
	assert.Equal(t, testApp, p.App)
	assert.Equal(t, testEnv, p.Env)
	assert.Len(t, p.Fingerprint, 12)
}

func TestCountUpCreatesSpread(t *testing.T) {
	h := newHarness(t).hosts(3, 4096, 8192)
	web := service("web", 6, webTask())
	h.run("h1", web.Revision, "a1")
	h.run("h1", web.Revision, "a2")

	p := h.plan(web)
	assert.Equal(t, map[Action]int{Create: 4}, actions(p))
	for _, c := range p.Changes {
		assert.Equal(t, "count 2 -> 6", Describe(c.Reason))
		assert.Equal(t, 0, c.Wave)
		assert.Equal(t, web.Revision.ID, c.Revision)
	}
	// h1 already holds 2, so the 4 new tasks even the hosts out at 2 each.
	assert.Equal(t, map[string]int{"h2": 2, "h3": 2}, hostsOf(p))
	assert.Equal(t, web.Revision, p.Revisions[web.Revision.ID])
}

func TestCountDownStopsFromFullestHostsFirst(t *testing.T) {
	h := newHarness(t).hosts(3, 8192, 16384)
	web := service("web", 2, webTask())
	old := service("web", 2, manifest.TaskDef{Image: "web:2", Port: 8080, CPU: 256, Memory: 512})
	h.run("h1", web.Revision, "a1")
	h.run("h1", web.Revision, "a2")
	h.run("h1", web.Revision, "a3")
	h.run("h2", web.Revision, "a4")
	h.run("h3", web.Revision, "a5")
	h.run("h3", old.Revision, "a6") // an old revision goes first

	p := h.plan(web)
	assert.Equal(t, map[Action]int{Destroy: 4}, actions(p))
	stopped := map[string]bool{}
	for _, c := range p.Changes {
		assert.Equal(t, "count 6 -> 2", Describe(c.Reason))
		assert.True(t, c.StopFirst)
		assert.Equal(t, 0, c.Wave)
		stopped[c.Old.TaskID] = true
	}
	// a6 first (old revision); then h1 holds the most, so its newest two (a3, a2); then one
	// task per host is left and the newest of them (a5) goes.
	assert.Equal(t, map[string]bool{"a6": true, "a3": true, "a2": true, "a5": true}, stopped)
	assert.Equal(t, 2, p.Services[0].Keep)
}

func TestCountZeroDestroysAll(t *testing.T) {
	h := newHarness(t).hosts(2, 4096, 8192)
	web := service("web", 2, webTask())
	h.run("h1", web.Revision, "a1")
	h.run("h2", web.Revision, "a2")
	p := h.plan(service("web", 0, webTask()))
	assert.Equal(t, map[Action]int{Destroy: 2}, actions(p))
	assert.Equal(t, "count 2 -> 0", Describe(p.Changes[0].Reason))
}

func TestNewRevisionNamesChangedFields(t *testing.T) {
	h := newHarness(t).hosts(2, 4096, 8192)
	v1 := service("web", 2, webTask(), func(s *manifest.ServiceSpec) { s.Task.StopTimeout = 30 * time.Second })
	td := webTask()
	td.Image = "web:2"
	td.Variables = map[string]string{"GREETING": "hi"}
	v2 := service("web", 2, td)
	h.run("h1", v1.Revision, "a1")
	h.run("h2", v1.Revision, "a2")

	p := h.plan(v2)
	require.Equal(t, map[Action]int{Replace: 2}, actions(p))
	want := fmt.Sprintf("new revision %s (was %s): image, variables, stop_timeout changed", v2.Revision.ID, v1.Revision.ID)
	for _, c := range p.Changes {
		assert.Equal(t, want, Describe(c.Reason))
		assert.Equal(t, v1.Revision.ID, c.Old.Revision)
		assert.Equal(t, 30*time.Second, c.Old.StopTimeout, "the old task stops as its revision asked")
		assert.False(t, c.StopFirst, "100/200 starts the new task first")
	}
	assert.Equal(t, 2, p.Services[0].Running)
	assert.Equal(t, 0, p.Services[0].Keep)
}

func TestNewRevisionWithoutOldSpec(t *testing.T) {
	h := newHarness(t).hosts(1, 4096, 8192)
	web := service("web", 1, webTask())
	h.runSpec("h1", "web", "0123456789ab", nil, "a1")
	p := h.plan(web)
	require.Len(t, p.Changes, 1)
	assert.Equal(t, fmt.Sprintf("new revision %s (was 0123456789ab): the running task carries no readable spec", web.Revision.ID),
		Describe(p.Changes[0].Reason))
}

func TestDriftFromSpecIsReplaced(t *testing.T) {
	h := newHarness(t).hosts(1, 4096, 8192)
	web := service("web", 1, webTask())
	edited := webTask()
	edited.Memory = 1024
	edited.Variables = nil
	h.runSpec("h1", "web", web.Revision.ID, &edited, "a1")
	p := h.plan(web)
	require.Len(t, p.Changes, 1)
	assert.Equal(t, Replace, p.Changes[0].Action)
	assert.Equal(t, "drift from the spec: memory, variables", Describe(p.Changes[0].Reason))
}

func TestNotRunningTasksAreReplacedStopFirst(t *testing.T) {
	h := newHarness(t)
	h1 := h.host("h1", 4096, 8192, nil)
	h.host("h2", 4096, 8192, nil)
	web := service("web", 2, webTask())
	dead := h.run("h1", web.Revision, "a1")
	h.run("h2", web.Revision, "a2")
	h1.SetState(dead.ContainerID, "exited")

	p := h.plan(web)
	require.Len(t, p.Changes, 1)
	c := p.Changes[0]
	assert.Equal(t, Replace, c.Action)
	assert.Equal(t, "task is not running (exited, code 0)", Describe(c.Reason))
	assert.True(t, c.StopFirst)
	assert.Equal(t, 0, c.Wave)
	assert.Equal(t, "a1", c.Old.TaskID)
	assert.Equal(t, 1, p.Services[0].Running)
	assert.Equal(t, 1, p.Services[0].Keep)
}

func TestNotRunningTasksOverCountAreDestroyed(t *testing.T) {
	h := newHarness(t)
	h1 := h.host("h1", 4096, 8192, nil)
	web := service("web", 1, webTask())
	dead := h.run("h1", web.Revision, "a1")
	h.run("h1", web.Revision, "a2")
	h1.SetState(dead.ContainerID, "created")

	p := h.plan(web)
	require.Len(t, p.Changes, 1)
	assert.Equal(t, Destroy, p.Changes[0].Action)
	assert.Equal(t, "a1", p.Changes[0].Old.TaskID)
	assert.Equal(t, "task is not running (created)", Describe(p.Changes[0].Reason),
		"why this task goes rather than the running one, not the count (which did not change)")
}

func TestUnreachableHostTasksAreReplacedElsewhere(t *testing.T) {
	h := newHarness(t).hosts(3, 4096, 8192)
	web := service("web", 3, webTask())
	h.run("h1", web.Revision, "a1")
	h.run("h2", web.Revision, "a2")
	h.run("h2", web.Revision, "a3")
	h.lost["h2"] = true

	p := h.plan(web)
	require.Equal(t, map[Action]int{Replace: 2}, actions(p))
	for _, c := range p.Changes {
		assert.Equal(t, "host h2 is unreachable", Describe(c.Reason))
		assert.Equal(t, "h2", c.Old.Host)
		assert.NotEqual(t, "h2", c.Host)
		assert.False(t, c.StopFirst)
		assert.Equal(t, 0, c.Wave)
	}
	// h3 holds none and h1 one: the first goes to h3, then h1 and h3 tie and h1 wins by name.
	assert.Equal(t, map[string]int{"h1": 1, "h3": 1}, hostsOf(p))
	assert.Contains(t, p.Warnings, "host h2 is unreachable (connection refused): its tasks are counted as lost")
}

func TestDownHostWithUnknownTasksIsReplaced(t *testing.T) {
	h := newHarness(t)
	h.host("h1", 4096, 8192, nil)
	h2 := h.host("h2", 4096, 8192, nil)
	web := service("web", 2, webTask())
	h.run("h1", web.Revision, "a1")
	h.run("h2", web.Revision, "a2")
	h2.SetDown(true)

	p := h.plan(web)
	require.Len(t, p.Changes, 1)
	assert.Equal(t, Create, p.Changes[0].Action)
	assert.Equal(t, "h1", p.Changes[0].Host)
	assert.Equal(t, "1 of 2 tasks seen; host h2 is unreachable, its tasks are replaced", Describe(p.Changes[0].Reason))
}

func TestDeleteDestroysEveryTask(t *testing.T) {
	h := newHarness(t).hosts(2, 4096, 8192)
	old := service("old", 2, webTask())
	h.run("h1", old.Revision, "a1")
	h.run("h2", old.Revision, "a2")

	p, err := h.compute(Options{Delete: []string{"old"}})
	require.NoError(t, err)
	require.Equal(t, map[Action]int{Destroy: 2}, actions(p))
	for _, c := range p.Changes {
		assert.Equal(t, "service deleted", Describe(c.Reason))
		assert.True(t, c.StopFirst)
	}
	require.Len(t, p.Services, 1)
	assert.True(t, p.Services[0].Delete)
	assert.Equal(t, 2, p.Services[0].Running)
	assert.Empty(t, p.Warnings)

	_, err = h.compute(Options{Delete: []string{"old"}}, old)
	assert.EqualError(t, err, "service old is both in the manifests and to be deleted; remove its manifest first")
}

func TestUnmanagedServicesAreLeftAloneWithAWarning(t *testing.T) {
	h := newHarness(t).hosts(1, 4096, 8192)
	stray := service("stray", 1, webTask())
	h.run("h1", stray.Revision, "a1")
	p := h.plan(service("web", 1, webTask()))
	assert.Equal(t, map[Action]int{Create: 1}, actions(p))
	assert.Equal(t, []string{"service stray runs but has no manifest; deck delete stray removes it"}, p.Warnings)
}

func TestComputeRejectsBadInput(t *testing.T) {
	h := newHarness(t).hosts(1, 4096, 8192)
	web := service("web", 1, webTask())
	_, err := h.compute(Options{}, web, web)
	assert.EqualError(t, err, "service web is desired twice")
	bad := service("web", 1, webTask(), withPlacement(manifest.Placement{Constraints: []manifest.Constraint{{Kind: "near"}}}))
	_, err = h.compute(Options{}, bad)
	assert.EqualError(t, err, `service web: unknown constraint kind "near" (want distinct_host, equals or in)`)
}

func TestPlansAreDeterministic(t *testing.T) {
	build := func() []byte {
		h := newHarness(t).hosts(4, 4096, 8192)
		api := service("api", 3, webTask())
		web := service("web", 2, webTask())
		h.run("h1", api.Revision, "a1")
		h.run("h3", web.Revision, "a2")
		td := webTask()
		td.Image = "web:2"
		p := h.plan(service("web", 5, td), service("api", 1, webTask()))
		var b []byte
		for _, c := range p.Changes {
			b = fmt.Appendf(b, "%s %s %s %s %d %v\n", c.Service, c.Action, c.Host, c.TaskID, c.Wave, c.StopFirst)
		}
		return b
	}
	first := build()
	for i := 0; i < 5; i++ {
		assert.Equal(t, string(first), string(build()))
	}
}

func TestReplacementStaysOnItsOldTasksHostWhenPlacementAllows(t *testing.T) {
	h := newHarness(t).hosts(3, 4096, 8192)
	oldRev := service("web", 4, manifest.TaskDef{Image: "web:1", Port: 8080, CPU: 256, Memory: 512})
	h.run("h1", oldRev.Revision, "a1")
	h.run("h2", oldRev.Revision, "a2")
	h.run("h3", oldRev.Revision, "a3")
	web := service("web", 4, webTask())

	p := h.plan(web)
	require.Equal(t, map[Action]int{Replace: 3, Create: 1}, actions(p))
	for _, c := range p.Changes {
		if c.Action == Replace {
			assert.Equal(t, c.Old.Host, c.Host, "task %s is replaced on its own host", c.Old.TaskID)
		}
	}
}
