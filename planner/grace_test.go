package planner

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/providers"
)

func TestTasksOfAHostInGraceHoldTheirPlaces(t *testing.T) {
	h := newHarness(t).hosts(3, 4096, 8192)
	web := service("web", 3, webTask())
	h.run("h1", web.Revision, "a1")
	h.run("h2", web.Revision, "a2")
	h.run("h2", web.Revision, "a3")
	h.lost["h2"] = true

	p, err := h.compute(Options{Grace: []string{"h2"}}, web)
	require.NoError(t, err)
	assert.Empty(t, p.Changes, "within the grace period nothing is done about h2's tasks")
	assert.Contains(t, p.Warnings, "host h2 is unreachable (connection refused): within its grace period, its tasks are left as they were")

	// Once the grace has passed, they are lost and replaced elsewhere.
	p, err = h.compute(Options{}, web)
	require.NoError(t, err)
	assert.Equal(t, map[Action]int{Replace: 2}, actions(p))
}

func TestAFailedTaskIsReplacedWhileAnotherHostIsInGrace(t *testing.T) {
	h := newHarness(t).hosts(3, 4096, 8192)
	web := service("web", 3, webTask())
	a1 := h.run("h1", web.Revision, "a1")
	h.run("h2", web.Revision, "a2")
	h.run("h3", web.Revision, "a3")
	require.NoError(t, h.cloud.Host("h1").Stop(context.Background(), a1.ContainerID, 0))
	h.lost["h2"] = true

	p, err := h.compute(Options{Grace: []string{"h2"}}, web)
	require.NoError(t, err)
	require.Equal(t, map[Action]int{Replace: 1}, actions(p))
	assert.Equal(t, "a1", p.Changes[0].Old.TaskID)
}

func TestAShortfallWaitsForAHostInGraceWhoseTasksAreUnknown(t *testing.T) {
	h := newHarness(t)
	h.host("h1", 4096, 8192, nil)
	h2 := h.host("h2", 4096, 8192, nil)
	web := service("web", 2, webTask())
	h.run("h1", web.Revision, "a1")
	h.run("h2", web.Revision, "a2")
	h2.SetDown(true)

	p, err := h.compute(Options{Grace: []string{"h2"}, GraceUnknown: true}, web)
	require.NoError(t, err)
	assert.Empty(t, p.Changes)
	p, err = h.compute(Options{}, web)
	require.NoError(t, err)
	assert.Equal(t, map[Action]int{Create: 1}, actions(p))
}

func TestAReplacedTaskIsStaleWhenItsHostReturns(t *testing.T) {
	h := newHarness(t).hosts(3, 4096, 8192)
	web := service("web", 2, webTask())
	h.run("h1", web.Revision, "a1")
	h.run("h2", web.Revision, "a2") // its host was cut off, and a2 replaced by n1 on h3
	td := web.Revision.Task
	h.runLabelled("h3", web.Revision, &td, "n1", map[string]string{providers.LabelReplaces: "a2"})

	p := h.plan(web)
	require.Equal(t, map[Action]int{Destroy: 1}, actions(p))
	c := p.Changes[0]
	assert.Equal(t, "a2", c.Old.TaskID, "the stale task goes, not its newer replacement")
	assert.Equal(t, ReasonReplaced, c.Reason.Code)
	assert.Equal(t, "replaced elsewhere while host h2 was unreachable: stale", Describe(c.Reason))
}

func TestAReplacedTaskStaysWhenItsReplacementIsGone(t *testing.T) {
	h := newHarness(t).hosts(3, 4096, 8192)
	web := service("web", 2, webTask())
	h.run("h1", web.Revision, "a1")
	h.run("h2", web.Revision, "a2")
	td := web.Revision.Task
	n1 := h.runLabelled("h3", web.Revision, &td, "n1", map[string]string{providers.LabelReplaces: "a2"})
	require.NoError(t, h.cloud.Host("h3").Stop(context.Background(), n1.ContainerID, 0))

	p := h.plan(web)
	for _, c := range p.Changes {
		if c.Old != nil {
			assert.NotEqual(t, "a2", c.Old.TaskID, "a2 is kept: what replaced it does not run")
		}
	}
}

// A task already replaced while its host is still unreachable is left alone: nothing can
// stop it until the host answers, and a change that cannot be made would be planned (and
// fail, and take the lock) on every controller reconcile. It goes once the host is back.
func TestAReplacedTaskOnAHostStillDownPlansNothing(t *testing.T) {
	h := newHarness(t).hosts(3, 4096, 8192)
	web := service("web", 2, webTask())
	h.run("h1", web.Revision, "a1")
	h.run("h2", web.Revision, "a2")
	td := web.Revision.Task
	h.runLabelled("h3", web.Revision, &td, "n1", map[string]string{providers.LabelReplaces: "a2"})
	h.lost["h2"] = true

	p := h.plan(web)
	assert.Empty(t, p.Changes, "a2 waits for its host")
	delete(h.lost, "h2")
	p = h.plan(web)
	require.Equal(t, map[Action]int{Destroy: 1}, actions(p))
	assert.Equal(t, "a2", p.Changes[0].Old.TaskID)
}
