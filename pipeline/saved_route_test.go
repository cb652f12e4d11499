package pipeline

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/executor"
	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers/lb"
)

// deck plan --out saves a plan that replaces web's tasks (v2) and shows no route change.
// Then another deploy (a teammate's checkout) changes only web's route (an alias): no task
// changes. deck deploy --plan must not then apply the saved plan as it is: the executor
// writes the plan's whole route (plan.Routes, read when the plan was made), so the alias
// the balancer now holds would be reverted by a plan that showed no route change. The
// snapshot fingerprint, once of hosts and tasks only, now covers the routes.
func TestSavedPlanIsRefusedWhenTheBalancersRouteChanged(t *testing.T) {
	_, b, target := routedWeb(t)
	client := &http.Client{Transport: answer200{}}
	v1 := withGreeting(target.Services[0], "v1")
	target.Services = []manifest.ServiceSpec{v1}
	out, err := Deploy{Target: target, HTTPClient: client}.Run(context.Background())
	require.NoError(t, err)
	out.Session.Close()

	mine := target
	mine.Services = []manifest.ServiceSpec{withGreeting(v1, "v2")}
	out, err = Deploy{Target: mine, HTTPClient: client, PlanOnly: true}.Run(context.Background())
	require.NoError(t, err)
	out.Session.Close()
	saved := out.Plan
	for _, c := range saved.Changes {
		require.Equal(t, "task", string(c.Kind), "the saved plan shows no route change")
	}

	theirs := target
	aliased := v1
	aliased.HTTP = &manifest.HTTP{Path: "/", Aliases: []string{"shop.example"}, Healthcheck: v1.HTTP.Healthcheck}
	theirs.Services = []manifest.ServiceSpec{aliased}
	out, err = Deploy{Target: theirs, HTTPClient: client}.Run(context.Background())
	require.NoError(t, err)
	out.Session.Close()
	require.Equal(t, 0, out.Plan.TaskChanges(), "a route-only change")
	routes, err := b.Routes(context.Background(), "shop", "prod")
	require.NoError(t, err)
	require.Equal(t, []string{"shop.example"}, routes["web"].Hosts)

	out, err = Deploy{Target: mine, HTTPClient: client, Saved: saved, SavedPath: "plan.json"}.Run(context.Background())
	out.Session.Close()
	routes, rerr := b.Routes(context.Background(), "shop", "prod")
	require.NoError(t, rerr)
	assert.ErrorIs(t, err, executor.ErrStalePlan, "the balancer's route changed since the plan was made")
	assert.Equal(t, []string{"shop.example"}, routes["web"].Hosts,
		"a saved plan that showed no route change changed the route: hosts %v", routes["web"].Hosts)
}

// Two environments whose balancers share one listener: the second's route for the same
// path and host names would take every request the first's takes. Its deploy is refused at
// the plan, and changes nothing: no task, no desired state.
func TestADeployWhoseRouteClashesWithAnotherEnvironmentsChangesNothing(t *testing.T) {
	r, _, target := routedWeb(t)
	client := &http.Client{Transport: answer200{}}
	out, err := Deploy{Target: target, HTTPClient: client}.Run(context.Background())
	require.NoError(t, err)
	out.Session.Close()
	before := runningEndpoints(r)

	qa := *r.env
	qa.Name = "qa"
	other := target
	other.Env = &qa
	out, err = Deploy{Target: other, HTTPClient: client}.Run(context.Background())
	if out.Session != nil {
		out.Session.Close()
	}
	require.ErrorIs(t, err, lb.ErrRouteClash)
	assert.Contains(t, err.Error(), "the route of app shop, environment prod, service web takes on that listener")
	assert.ElementsMatch(t, before, runningEndpoints(r), "no task started")
	s, err := OpenRead(context.Background(), other)
	require.NoError(t, err)
	defer s.Close()
	recs, err := ReadDesired(context.Background(), s)
	require.NoError(t, err)
	assert.Empty(t, recs, "no desired state recorded for qa")
}
