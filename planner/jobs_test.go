package planner

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
)

var jobNow = time.Date(2024, 9, 2, 10, 0, 0, 0, time.UTC)

func reportTask() manifest.TaskDef {
	return manifest.TaskDef{Image: "web:1", CPU: 128, Memory: 64, Command: []string{"/report"}}
}

func reportJob(schedule string, td manifest.TaskDef) Desired {
	svc := manifest.ServiceSpec{Name: "report", Type: manifest.ScheduledJob, Task: td, Count: manifest.Count{Value: 1},
		Deployment: manifest.Deployment{Strategy: "default", MinHealthyPercent: 100, MaxPercent: 200},
		Placement:  manifest.Placement{Strategy: "spread"}, Schedule: schedule, Concurrency: 1}
	return Desired{Service: svc, Revision: NewRevision("report", td)}
}

// recorded is what the hosts say once d was deployed.
func recorded(d Desired) map[string]JobRecord {
	rev := d.Revision
	return map[string]JobRecord{d.Service.Name: {Desired: providers.DesiredStateOf(d.Service), Revision: &rev}}
}

// runJob starts a run of the job on host, started at start, and ends it with code unless
// code is negative (it keeps running).
func (h *harness) runJob(host string, d Desired, run string, start time.Time, code int) {
	h.t.Helper()
	td := d.Revision.Task
	t := h.runLabelled(host, d.Revision, &td, run+"-1", map[string]string{
		providers.LabelKind: providers.KindJobRun, providers.LabelRun: run, providers.LabelAttempt: "1",
		providers.LabelStarted: start.Format(time.RFC3339Nano)})
	if code >= 0 {
		h.cloud.Host(host).Finish(t.ContainerID, code)
	}
}

func TestANewJobIsRecordedNotRun(t *testing.T) {
	h := newHarness(t).hosts(3, 4096, 8192)
	d := reportJob("@every 10s", reportTask())
	p, err := h.compute(Options{Now: jobNow}, d)
	require.NoError(t, err)
	require.Len(t, p.Changes, 1)
	c := p.Changes[0]
	assert.Equal(t, KindJob, c.Kind)
	assert.Equal(t, Create, c.Action)
	assert.Equal(t, ReasonJobNew, c.Reason.Code)
	assert.Equal(t, []string{"h1", "h2", "h3"}, c.Job.Hosts, "its image goes to every host a run may go to")
	assert.Equal(t, jobNow.Add(10*time.Second), c.Job.NextRun)
	assert.Contains(t, p.Revisions, d.Revision.ID, "its revision is recorded")
	assert.Zero(t, p.TaskChanges(), "no run starts")

	var b bytes.Buffer
	require.NoError(t, RenderText(&b, p, nil))
	assert.Contains(t, b.String(), "job report  (revision "+d.Revision.ID+", runs on its schedule)")
	assert.Contains(t, b.String(), "+ job report: schedule @every 10s (next run 2024-09-02 10:00:10 UTC)")
	assert.Contains(t, b.String(), "new job")
	assert.Contains(t, b.String(), "Plan: 0 to create, 0 to replace, 0 to destroy; 1 job change.")
	assert.Contains(t, DescribeChange(c), "create job report: schedule @every 10s")
}

func TestFinishedAndRunningRunsAreLeftAlone(t *testing.T) {
	h := newHarness(t).hosts(2, 4096, 8192)
	d := reportJob("@every 10s", reportTask())
	h.runJob("h1", d, "r1", jobNow.Add(-time.Minute), 0)
	h.runJob("h2", d, "r2", jobNow.Add(-20*time.Second), 1)
	h.runJob("h1", d, "r3", jobNow.Add(-5*time.Second), -1)
	p, err := h.compute(Options{Now: jobNow, Jobs: recorded(d)}, d)
	require.NoError(t, err)
	assert.True(t, p.Empty(), "deployed as recorded: no change, whatever its runs did")
	require.Len(t, p.Services, 1)
	assert.Equal(t, 1, p.Services[0].Running)

	// A changed schedule is a job change; the run going on is left to finish.
	d2 := reportJob("@hourly", reportTask())
	p, err = h.compute(Options{Now: jobNow, Jobs: recorded(d)}, d2)
	require.NoError(t, err)
	require.Len(t, p.Changes, 1)
	c := p.Changes[0]
	assert.Equal(t, Replace, c.Action)
	assert.Equal(t, ReasonJobChanged, c.Reason.Code)
	assert.Equal(t, []string{"schedule"}, c.Reason.Fields)
	assert.Equal(t, 1, c.Job.Running)
	assert.Equal(t, time.Date(2024, 9, 2, 10, 0, 0, 0, time.UTC), c.Job.NextRun, "the next hour after the last run's start (09:59:55)")
	assert.Contains(t, changeText(c), "; 1 running, left to finish")
}

func TestAJobsNewTaskDefinitionIsANewRevision(t *testing.T) {
	h := newHarness(t).hosts(2, 4096, 8192)
	old := reportJob("@daily", reportTask())
	td := reportTask()
	td.Command = []string{"/report", "--full"}
	d := reportJob("@daily", td)
	d.Service.Retries = 2
	p, err := h.compute(Options{Jobs: recorded(old)}, d)
	require.NoError(t, err)
	require.Len(t, p.Changes, 1)
	r := p.Changes[0].Reason
	assert.Equal(t, ReasonNewRevision, r.Code)
	assert.Equal(t, old.Revision.ID, r.WasRevision)
	assert.Equal(t, []string{"command", "retries"}, r.Fields)
	assert.Equal(t, "new revision "+d.Revision.ID+" (was "+old.Revision.ID+"): command, retries changed", Describe(r))
	assert.True(t, p.Changes[0].Job.NextRun.IsZero(), "no Now, no next run named")
}

func TestATaskOfAJobStartedAsAServiceTaskIsStopped(t *testing.T) {
	h := newHarness(t).hosts(1, 4096, 8192)
	d := reportJob("@daily", reportTask())
	h.run("h1", d.Revision, "legacy")
	p, err := h.compute(Options{Jobs: recorded(d)}, d)
	require.NoError(t, err)
	require.Len(t, p.Changes, 1)
	assert.Equal(t, Destroy, p.Changes[0].Action)
	assert.Equal(t, KindTask, p.Changes[0].Kind)
	assert.Equal(t, ReasonNotARun, p.Changes[0].Reason.Code)
}

func TestDeletingAJobWithNoRunsIsStillAChange(t *testing.T) {
	h := newHarness(t).hosts(1, 4096, 8192)
	d := reportJob("@daily", reportTask())
	p, err := h.compute(Options{Delete: []string{"report"}, Partial: true, Jobs: recorded(d)})
	require.NoError(t, err)
	require.Len(t, p.Changes, 1, "recorded as deleted, so nothing starts it again")
	assert.Equal(t, KindJob, p.Changes[0].Kind)
	assert.Equal(t, Destroy, p.Changes[0].Action)

	h.runJob("h1", d, "r1", jobNow, 0)
	p, err = h.compute(Options{Delete: []string{"report"}, Partial: true, Jobs: recorded(d)})
	require.NoError(t, err)
	assert.Equal(t, 1, p.Counts()[Destroy], "and its runs are removed")
}

func TestAJobGoesOnlyToHostsItsPlacementAllows(t *testing.T) {
	h := newHarness(t)
	h.host("h1", 4096, 8192, map[string]string{"zone": "a"})
	h.host("h2", 4096, 8192, map[string]string{"zone": "b"})
	d := reportJob("@daily", reportTask())
	d.Service.Placement.Constraints = []manifest.Constraint{{Kind: manifest.ConstraintEquals, Attribute: "zone", Values: []string{"b"}}}
	p, err := h.compute(Options{}, d)
	require.NoError(t, err)
	assert.Equal(t, []string{"h2"}, p.Changes[0].Job.Hosts)

	d.Service.Placement.Constraints[0].Values = []string{"c"}
	_, err = h.compute(Options{}, d)
	assert.EqualError(t, err, "job report: no host can run it: h1: constraint zone = c, h2: constraint zone = c")
}

func TestPlaceTasksSpreadsAndSkipsExcludedHosts(t *testing.T) {
	h := newHarness(t).hosts(3, 1024, 2048)
	rev := NewRevision("web", webTask())
	h.run("h1", rev, "a")
	snap := h.snapshot()
	hosts, err := PlaceTasks(snap, "web", manifest.Placement{Strategy: "spread"}, webTask(), 2, nil)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"h2", "h3"}, hosts, "around the service's running task")
	hosts, err = PlaceTasks(snap, "web", manifest.Placement{}, webTask(), 2, map[string]bool{"h2": true})
	require.NoError(t, err)
	assert.NotContains(t, hosts, "h2")
	_, err = PlaceTasks(snap, "web", manifest.Placement{}, manifest.TaskDef{Image: "web:1", CPU: 4096, Memory: 64}, 1, nil)
	assert.ErrorContains(t, err, "no host fits")
}
