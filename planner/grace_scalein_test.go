package planner

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A scale-in (count 4 -> 2, the autoscaler or a deploy) while a host is within its grace
// period: the tasks of the host that does not answer hold their places against new tasks,
// not against the healthy tasks that answer. Stopping those would leave no task anyone can
// see serving ("a healthy task is never stopped for one deck has not seen healthy"); what
// is over the count is stopped once the host is back.
func TestScaleInDuringAHostsGraceKeepsTheTasksThatAnswer(t *testing.T) {
	h := newHarness(t).hosts(2, 4096, 8192)
	web4 := service("web", 4, webTask())
	h.run("h1", web4.Revision, "a1")
	h.run("h1", web4.Revision, "a2")
	h.run("h2", web4.Revision, "a3")
	h.run("h2", web4.Revision, "a4")
	h.lost["h2"] = true // in its grace: a restart of its Podman service

	web2 := service("web", 2, webTask())
	require.Equal(t, web4.Revision.ID, web2.Revision.ID)
	p, err := h.compute(Options{Grace: []string{"h2"}}, web2)
	require.NoError(t, err)
	var stopped []string
	for _, c := range p.Changes {
		if c.Kind == KindTask && c.Action == Destroy {
			stopped = append(stopped, c.Old.Host+"/"+c.Old.TaskID)
		}
	}
	assert.Empty(t, stopped, "the only tasks that answer are stopped: %v (%d kept)", stopped, p.Services[0].Keep)
}
