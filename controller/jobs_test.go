package controller

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/providers"
)

func reportJob(schedule string) manifest.ServiceSpec {
	return manifest.ServiceSpec{App: "shop", Env: "prod", Name: "report", Type: manifest.ScheduledJob,
		Image:    manifest.ImageSpec{Location: "report:1"},
		Task:     manifest.TaskDef{Image: "report:1", CPU: 128, Memory: 64, StopTimeout: time.Second, Command: []string{"/report"}},
		Count:    manifest.Count{Value: 1},
		Schedule: schedule, Concurrency: 1,
		Deployment: manifest.Deployment{Strategy: "default", MinHealthyPercent: 100, MaxPercent: 200},
		Placement:  manifest.Placement{Strategy: "spread"}}
}

// jobRig is a rig whose hosts run on its clock and hold the report job's image.
func jobRig(t *testing.T, hosts int) *rig {
	r := newRig(t, hosts)
	for _, h := range r.env.Hosts {
		r.cloud.Host(h.Name).SetClock(r.clock.Now)
		r.cloud.Host(h.Name).AddImage("report:1")
	}
	return r
}

// runsOfReport are the report job's containers on every host, reachable or not.
func (r *rig) runsOfReport() []providers.Task {
	var out []providers.Task
	for _, spec := range r.env.Hosts {
		for _, tk := range r.cloud.Host(spec.Name).Tasks() {
			if tk.Service == "report" {
				out = append(out, tk)
			}
		}
	}
	return out
}

// The controller keeps the jobs it read for jobRefresh; a job deck delete removed
// meanwhile must not be started again from that list (README: "deck delete JOB removes
// its runs, and nothing starts it again").
func TestDeletedJobIsNotStartedAgain(t *testing.T) {
	r := jobRig(t, 1)
	r.deploy(reportJob("@every 10s"))
	ctx := context.Background()
	c := r.controller()
	s, err := pipeline.Open(ctx, r.target())
	require.NoError(t, err)
	defer s.Close()
	c.attach(s)

	r.clock.Advance(10 * time.Second)
	require.NoError(t, c.jobs(ctx, s, nil))
	runs := r.runsOfReport()
	require.Len(t, runs, 1, "the first run is due")
	r.cloud.Host("h1").Finish(runs[0].ContainerID, 0)

	out, err := pipeline.Deploy{Target: r.target(), Delete: []string{"report"}, Partial: true, Lock: r.lock}.Run(ctx)
	out.Session.Close()
	require.NoError(t, err)
	require.Empty(t, r.runsOfReport(), "deck delete removed its runs")

	r.clock.Advance(2 * time.Second) // within jobRefresh of the last read
	require.NoError(t, c.jobs(ctx, s, nil))
	assert.Empty(t, r.runsOfReport(), "the deleted job is not started again")
}

// A standby that takes over while the host of the job's last run is down does not see
// that run; the start recorded on the other hosts keeps it from running the job again.
func TestFailoverWithTheLastRunsHostDownDoesNotRunTheJobTwice(t *testing.T) {
	r := jobRig(t, 2)
	r.deploy(reportJob("@daily"))
	ctx := context.Background()

	leader := r.controller()
	s, err := pipeline.Open(ctx, r.target())
	require.NoError(t, err)
	leader.attach(s)
	r.clock.Advance(24 * time.Hour)
	require.NoError(t, leader.jobs(ctx, s, nil))
	s.Close()
	runs := r.runsOfReport()
	require.Len(t, runs, 1, "the day's run")
	r.clock.Advance(10 * time.Minute)
	r.cloud.Host(runs[0].Host).Finish(runs[0].ContainerID, 0)

	r.clock.Advance(time.Hour)
	r.cloud.Host(runs[0].Host).SetDown(true)
	standby := r.controller()
	s2, err := pipeline.Open(ctx, r.target())
	require.NoError(t, err)
	defer s2.Close()
	standby.attach(s2)
	require.NoError(t, standby.jobs(ctx, s2, nil))
	assert.Len(t, r.runsOfReport(), 1, "the day's run happened on %s: none again until tomorrow", runs[0].Host)

	// The next day's run starts on time all the same.
	r.clock.Advance(24 * time.Hour)
	require.NoError(t, standby.jobs(ctx, s2, nil))
	assert.Len(t, r.runsOfReport(), 2, "tomorrow's run")
}

// README (deck task run --detach): ended tasks are removed an hour after they end by the
// controller, also in an environment with no Scheduled Job.
func TestControllerRemovesEndedStandaloneTasksWithoutJobs(t *testing.T) {
	r := newRig(t, 1)
	r.cloud.Host("h1").SetClock(r.clock.Now)
	r.deploy(web(1))
	ctx := context.Background()
	s, err := pipeline.Open(ctx, r.target())
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.List(ctx))
	tasks, err := s.RunTask(ctx, pipeline.TaskRequest{Service: "web", Command: []string{"/migrate"}, Count: 1})
	require.NoError(t, err)
	r.cloud.Host("h1").Finish(tasks[0].ContainerID, 0)

	r.clock.Advance(2 * time.Hour)
	c := r.controller()
	c.attach(s)
	require.NoError(t, c.jobs(ctx, s, nil))
	_, err = r.cloud.Host("h1").Inspect(ctx, tasks[0].ContainerID)
	assert.ErrorIs(t, err, providers.ErrNotFound, "the task ended 2h ago: the controller removed it")
}

// A service whose only deploy failed has no revision to run: the controller says so once,
// in its log and the event log, rather than going quiet after its last retry.
func TestAServiceWithNoRevisionToRunIsReportedOnce(t *testing.T) {
	r := newRig(t, 1)
	svc := web(1)
	svc.Image.Location, svc.Task.Image = "missing:1", "missing:1" // no host has it
	tgt := r.target()
	tgt.Services = []manifest.ServiceSpec{svc}
	out, err := pipeline.Deploy{Target: tgt, Lock: r.lock}.Run(context.Background())
	if out != nil && out.Session != nil {
		out.Session.Close()
	}
	require.Error(t, err, "the first deploy fails")

	c := r.controller()
	for range 2 {
		_ = c.Once(context.Background())
	}
	const why = "(service web) has no revision to run: none of its deploys completed"
	assert.Equal(t, 1, strings.Count(r.log.String(), why), r.log.String())
	s, err := pipeline.Open(context.Background(), r.target())
	require.NoError(t, err)
	defer s.Close()
	events, err := pipeline.ReadEventLog(context.Background(), s, time.Time{})
	require.NoError(t, err)
	n := 0
	for _, e := range events {
		if e.Kind == pipeline.KindLeftAlone && strings.HasPrefix(e.Message, why) {
			n++
		}
	}
	assert.Equal(t, 1, n, "one event")
}
