package pipeline

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner"
)

// A plan file edited by hand (or by a CI step between deck plan and deck deploy --plan)
// is refused, and nothing changes: a task definition changed under its revision id (it
// once ran, as "completed", with the id unchanged), a route's settings, a target that is
// no task's.
func TestEditedPlanFileIsRefused(t *testing.T) {
	r, b, target := routedWeb(t)
	client := &http.Client{Transport: answer200{}}
	target.Services[0] = withGreeting(target.Services[0], "v1")
	out, err := Deploy{Target: target, HTTPClient: client}.Run(context.Background())
	require.NoError(t, err)
	out.Session.Close()
	before := runningEndpoints(r)

	next := target
	next.Services = []manifest.ServiceSpec{withGreeting(target.Services[0], "v2")}
	out, err = Deploy{Target: next, HTTPClient: client, PlanOnly: true}.Run(context.Background())
	require.NoError(t, err)
	out.Session.Close()
	var file bytes.Buffer
	require.NoError(t, planner.RenderJSON(&file, out.Plan))

	for _, tc := range []struct {
		name, want string
		edit       func(p *planner.Plan)
	}{
		{"a variable", "the task definition of service web under revision", func(p *planner.Plan) {
			for id, rev := range p.Revisions {
				rev.Task.Variables = map[string]string{"GREETING": "evil"}
				p.Revisions[id] = rev
			}
		}},
		{"the route's path", "the route of service web is not the one its manifest gives", func(p *planner.Plan) {
			rt := p.Routes["web"]
			rt.Path = "/admin"
			p.Routes["web"] = rt
		}},
		{"a target", "the route of service web sends requests to 10.9.9.9:80, which no running task of it has", func(p *planner.Plan) {
			rt := p.Routes["web"]
			rt.Targets = append(rt.Targets, "10.9.9.9:80")
			p.Routes["web"] = rt
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			saved, err := planner.ReadJSON(bytes.NewReader(file.Bytes()))
			require.NoError(t, err)
			tc.edit(saved)
			out, err := Deploy{Target: next, HTTPClient: client, Saved: saved, SavedPath: "plan.json"}.Run(context.Background())
			out.Session.Close()
			require.Error(t, err)
			assert.Contains(t, err.Error(), "plan plan.json was edited since deck plan wrote it: "+tc.want)
			assert.ElementsMatch(t, before, runningEndpoints(r), "nothing changed")
			routes, err := b.Routes(context.Background(), "shop", "prod")
			require.NoError(t, err)
			assert.Equal(t, "/", routes["web"].Path)
		})
	}

	saved, err := planner.ReadJSON(bytes.NewReader(file.Bytes()))
	require.NoError(t, err)
	out, err = Deploy{Target: next, HTTPClient: client, Saved: saved, SavedPath: "plan.json"}.Run(context.Background())
	out.Session.Close()
	require.NoError(t, err, "the plan as deck wrote it applies")
}
