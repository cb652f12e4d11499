package pipeline

import (
	"context"
	"sort"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/executor"
	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
)

// runningEndpoints are address:port of the tasks of web running on the fake hosts now.
func runningEndpoints(r *rig) []string {
	var out []string
	for i, h := range []string{"h1", "h2"} {
		for _, task := range r.cloud.Host(h).Tasks() {
			if task.Running() && task.Service == "web" {
				if ep := task.Address(r.env.Hosts[i].Address); ep != "" {
					out = append(out, ep)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// A rollout of 2 waves (count 4, 100%/150%): wave 1's v2 tasks pass and replace 2 v1
// tasks; wave 2's v2 tasks fail and trip the breaker; the rollback stops wave 1's v2 tasks
// and starts v1 tasks in their place. The summary's endpoints (and the -o json report's,
// which are the same Outcome.Endpoints) must be the tasks that run once the deploy
// returns.
func TestSummaryAfterARollbackListsTheTasksThatRun(t *testing.T) {
	r := newRig(t, 2)
	svc := func(g string) manifest.ServiceSpec {
		s := withGreeting(webService(4), g)
		s.Task.Port = 8080
		s.Deployment.MaxPercent = 150
		return s
	}
	_, err := r.deploy(t, svc("v1"))
	require.NoError(t, err)

	var wave2 atomic.Bool
	for _, h := range []string{"h1", "h2"} {
		r.cloud.Host(h).Exits = func(s providers.TaskSpec) (int, bool) {
			return 1, wave2.Load() && s.Env["GREETING"] == "v2"
		}
	}
	d := Deploy{Target: Target{App: r.app, Env: r.env, Services: []manifest.ServiceSpec{svc("v2")}, Dialer: r.cloud},
		Events: func(e executor.Event) {
			if e.Kind == executor.EventWave && e.Wave == 2 && e.Service == "web" {
				wave2.Store(true) // wave 1 passed; every v2 task from now on exits
			}
		}}
	out, err := d.Run(context.Background())
	defer out.Session.Close()
	var rb *RolledBackError
	require.ErrorAs(t, err, &rb)
	require.NoError(t, rb.Rollback)
	require.Equal(t, 2, out.Plan.Services[0].Waves)
	require.Equal(t, map[string]int{"v1": 4}, greetings(r), "the rollback returned to 4 tasks of v1")
	require.Len(t, out.Rollbacks, 1)
	require.Len(t, out.Rollbacks[0].Created, 2, "the rollback started 2 v1 tasks in place of wave 1's v2 tasks")

	want := runningEndpoints(r)
	require.Len(t, want, 4)
	assert.Equal(t, want, out.Endpoints("web"),
		"the summary lists the tasks that run: not wave 1's v2 tasks the rollback removed, and the v1 tasks it started")
}
