package planner

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/health"
)

// A task replaced while its host was unreachable is "stale" once the host is back, but
// only when its replacement serves. While the replacement has not passed its health check
// (it fails it, or is still starting), the original is the one of the two that serves, and
// stopping it would drop the service below its count of serving tasks.
func TestStaleTaskKeptWhileItsReplacementIsUnhealthy(t *testing.T) {
	h := newHarness(t).hosts(3, 4096, 8192)
	web := service("web", 2, webTask())
	h.run("h1", web.Revision, "a1")
	h.run("h2", web.Revision, "a2") // h2 was cut off; a2 replaced by n1 on h3, which fails its checks
	td := web.Revision.Task
	h.runLabelled("h3", web.Revision, &td, "n1", map[string]string{providers.LabelReplaces: "a2"})
	h.health["n1"] = health.StateUnhealthy

	p := h.plan(web)
	for _, c := range p.Changes {
		if c.Kind == KindTask && c.Old != nil {
			assert.NotEqual(t, "a2", c.Old.TaskID,
				"a2 serves and its replacement n1 is unhealthy: a2 must not be stopped (%s %s)", c.Action, Describe(c.Reason))
		}
	}
}

func TestStaleTaskKeptWhileItsReplacementIsStarting(t *testing.T) {
	h := newHarness(t).hosts(3, 4096, 8192)
	web := service("web", 2, webTask())
	h.run("h1", web.Revision, "a1")
	h.run("h2", web.Revision, "a2")
	td := web.Revision.Task
	h.runLabelled("h3", web.Revision, &td, "n1", map[string]string{providers.LabelReplaces: "a2"})
	h.health["n1"] = health.StateStarting

	p := h.plan(web)
	require.NotNil(t, p)
	for _, c := range p.Changes {
		if c.Kind == KindTask && c.Old != nil && c.Old.TaskID == "a2" {
			assert.NotEqual(t, Destroy, c.Action,
				"a2 serves; n1 has not passed yet: a2 is destroyed in wave 0 (StopFirst=%v) before n1 is healthy", c.StopFirst)
		}
	}
}
