package controller

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/controller/autoscale"
	"github.com/deckhq/deck/pipeline"
)

// deploying decides "no scale-in during a deployment" from the revisions of the service's
// running tasks. The controller keeps the last-seen tasks of a host that stopped
// answering; one of the previous revision on a host that died for good must not keep the
// service "deploying" for ever once the rollout completed on every host that answers.
func TestADeadHostsOldTaskDoesNotBlockScaleIn(t *testing.T) {
	r := newRig(t, 2)
	for _, h := range []string{"h1", "h2"} {
		r.cloud.Host(h).AddImage("web:2")
	}
	r.deploy(web(2)) // one task on h1, one on h2
	c := r.controller()
	ctx := context.Background()
	require.NoError(t, c.Once(ctx)) // the controller has seen h2's task

	r.cloud.Host("h2").SetDown(true) // h2 dies, for good
	r.clock.Advance(time.Hour)
	require.NoError(t, c.Once(ctx)) // h2's task is replaced on h1

	v2 := web(2)
	v2.Image.Location, v2.Task.Image = "web:2", "web:2"
	r.deploy(v2) // a deploy rolls web out to web:2 on the hosts that answer; it completes

	s, err := pipeline.Open(ctx, r.target())
	require.NoError(t, err)
	defer s.Close()
	c.attach(s)
	require.NoError(t, s.Read(ctx))
	revs := map[string]int{}
	for tk := range s.Snap.EachTaskOf("web") {
		if tk.HostReachable && tk.Running() {
			revs[tk.Revision]++
		}
	}
	require.Len(t, revs, 1, "every task that runs is of the new revision")

	assert.False(t, deploying(s, "web"), "no deployment is in progress: the old task is on a host that is gone")
	d := autoscale.Decide(autoscale.Policy{Service: "web", Min: 1, Max: 10, CPUPercent: 70, CooldownIn: time.Minute},
		2, autoscale.Metrics{CPU: autoscale.Metric{Value: 5, OK: true}}, autoscale.History{}, deploying(s, "web"), r.clock.Now())
	assert.Equal(t, autoscale.In, d.Action, "an idle service scales in: %s", d.NoScaleInReason)
}
