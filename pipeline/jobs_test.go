package pipeline

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/executor"
	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/fake"
)

// jobRig is a rig whose hosts read a clock the test moves: records and containers are
// stamped by it, and ReconcileJobs is given its time.
type jobRig struct {
	*rig
	clock *fake.Clock
}

func newJobRig(t *testing.T, hosts int) *jobRig {
	r := &jobRig{rig: newRig(t, hosts), clock: fake.NewClock(time.Date(2024, 9, 2, 10, 0, 0, 0, time.UTC))}
	for _, h := range r.env.Hosts {
		r.cloud.Host(h.Name).SetClock(r.clock.Now)
	}
	r.cloud.Host("h1").AddImage("report:1")
	return r
}

func reportJob(schedule string) manifest.ServiceSpec {
	return manifest.ServiceSpec{App: "shop", Env: "prod", Name: "report", Type: manifest.ScheduledJob,
		Image:    manifest.ImageSpec{Location: "report:1"},
		Task:     manifest.TaskDef{Image: "report:1", CPU: 128, Memory: 64, StopTimeout: time.Second, Command: []string{"/report"}},
		Count:    manifest.Count{Value: 1},
		Schedule: schedule, Concurrency: 1,
		Deployment: manifest.Deployment{Strategy: "default", MinHealthyPercent: 100, MaxPercent: 200},
		Placement:  manifest.Placement{Strategy: "spread"}}
}

// reconcile reads the hosts and reconciles the jobs at the clock's time.
func (r *jobRig) reconcile(t *testing.T, opts JobOptions) []JobAction {
	t.Helper()
	s := r.session(t)
	require.NoError(t, s.List(context.Background()))
	acts, err := s.ReconcileJobs(context.Background(), r.clock.Now(), opts)
	require.NoError(t, err)
	return acts
}

// runs lists the job's run containers on every host, by the history's order (newest first).
func (r *jobRig) history(t *testing.T) []JobRun {
	t.Helper()
	s := r.session(t)
	require.NoError(t, s.List(context.Background()))
	return s.JobHistory(context.Background(), "report")
}

func (r *jobRig) finish(t *testing.T, run JobRun, code int) {
	t.Helper()
	r.cloud.Host(run.Host).Finish(run.ContainerID, code)
}

func kinds(acts []JobAction) []JobActionKind {
	var out []JobActionKind
	for _, a := range acts {
		out = append(out, a.Kind)
	}
	return out
}

func TestDeployRecordsAJobAndPutsItsImageOnTheHostsWithoutRunningIt(t *testing.T) {
	r := newJobRig(t, 2)
	var plans []*planner.Plan
	d := Deploy{Target: Target{App: r.app, Env: r.env, Services: []manifest.ServiceSpec{reportJob("@every 10s")}, Dialer: r.cloud},
		Planned: func(p *planner.Plan) error { plans = append(plans, p); return nil }}
	out, err := d.Run(context.Background())
	out.Session.Close()
	require.NoError(t, err)
	require.Len(t, plans, 1)
	require.Len(t, plans[0].Changes, 1)
	c := plans[0].Changes[0]
	assert.Equal(t, planner.KindJob, c.Kind)
	assert.Equal(t, planner.Create, c.Action)
	assert.Equal(t, []string{"h1", "h2"}, c.Job.Hosts)
	assert.Equal(t, 1, out.Revisions["report"], "the job's revision is recorded as number 1")
	for _, h := range []string{"h1", "h2"} {
		ok, err := r.cloud.Host(h).ImageExists(context.Background(), "report:1")
		require.NoError(t, err)
		assert.True(t, ok, "a run can start on %s: the image is there", h)
		assert.Empty(t, r.cloud.Host(h).Tasks(), "a deploy starts no run")
	}

	s := r.session(t)
	require.NoError(t, s.List(context.Background()))
	jobs, skipped, err := ReadJobs(context.Background(), s)
	require.NoError(t, err)
	assert.Empty(t, skipped)
	require.Len(t, jobs, 1)
	assert.Equal(t, "@every 10s", jobs[0].Desired.Schedule)
	assert.Equal(t, 1, jobs[0].Number)
	assert.Equal(t, r.clock.Now(), jobs[0].Since, "recorded by the hosts' clock")

	plans = nil
	out, err = d.Run(context.Background())
	out.Session.Close()
	require.NoError(t, err)
	assert.True(t, plans[0].Empty(), "deployed again unchanged: nothing to do")
}

func TestAFinishedRunIsNotReplacedByADeploy(t *testing.T) {
	r := newJobRig(t, 2)
	_, err := r.deploy(t, reportJob("@every 10s"))
	require.NoError(t, err)
	r.clock.Advance(10 * time.Second)
	assert.Equal(t, []JobActionKind{JobStarted}, kinds(r.reconcile(t, JobOptions{})))
	runs := r.history(t)
	require.Len(t, runs, 1)
	r.finish(t, runs[0], 0)

	out, err := r.deploy(t, reportJob("@every 10s"))
	require.NoError(t, err)
	assert.True(t, out.Plan.Empty(), "a finished run is history, not a task to replace")
	out, err = r.deploy(t, reportJob("@every 1m"))
	require.NoError(t, err)
	require.Len(t, out.Plan.Changes, 1)
	assert.Equal(t, planner.ReasonJobChanged, out.Plan.Changes[0].Reason.Code)
	assert.Equal(t, []string{"schedule"}, out.Plan.Changes[0].Reason.Fields)
	assert.Len(t, r.history(t), 1, "the run's container is kept, as it was")
}

func TestJobRunsWhenDueAndNotBefore(t *testing.T) {
	r := newJobRig(t, 2)
	_, err := r.deploy(t, reportJob("@every 10s"))
	require.NoError(t, err)
	assert.Empty(t, r.reconcile(t, JobOptions{}), "deployed just now: the first run is 10s away")
	r.clock.Advance(9 * time.Second)
	assert.Empty(t, r.reconcile(t, JobOptions{}))
	r.clock.Advance(time.Second)
	acts := r.reconcile(t, JobOptions{Epoch: 7})
	require.Equal(t, []JobActionKind{JobStarted}, kinds(acts))
	assert.Equal(t, TriggerSchedule, acts[0].Trigger)

	runs := r.history(t)
	require.Len(t, runs, 1)
	assert.Equal(t, "running", runs[0].State)
	assert.Equal(t, r.clock.Now(), runs[0].Started)
	labels := r.cloud.Host(runs[0].Host).TaskSpec(runs[0].ContainerID).Labels
	assert.Equal(t, "7", labels[providers.LabelEpoch], "the run carries the lock's epoch")
	assert.Equal(t, providers.KindJobRun, labels[providers.LabelKind])

	// Counted from the run's start: not again until 10s later.
	r.clock.Advance(5 * time.Second)
	r.finish(t, runs[0], 0)
	assert.Empty(t, r.reconcile(t, JobOptions{}))
	r.clock.Advance(5 * time.Second)
	assert.Equal(t, []JobActionKind{JobStarted}, kinds(r.reconcile(t, JobOptions{})))
	runs = r.history(t)
	require.Len(t, runs, 2)
	assert.Equal(t, 10*time.Second, runs[0].Started.Sub(runs[1].Started))
	assert.Equal(t, 5*time.Second, runs[1].Duration, "finished 5s after it started")
	assert.Equal(t, 0, runs[1].ExitCode)
	assert.Empty(t, runs[1].Reason)
}

func TestNeverTwoRunsAtOnceUnlessAsked(t *testing.T) {
	r := newJobRig(t, 2)
	_, err := r.deploy(t, reportJob("@every 10s"))
	require.NoError(t, err)
	r.clock.Advance(10 * time.Second)
	require.Equal(t, []JobActionKind{JobStarted}, kinds(r.reconcile(t, JobOptions{})))
	r.clock.Advance(15 * time.Second)
	acts := r.reconcile(t, JobOptions{})
	require.Equal(t, []JobActionKind{JobWaiting}, kinds(acts), "due, but the last run still runs")
	assert.Contains(t, acts[0].Detail, "1 of 1 runs still going")
	assert.Len(t, r.history(t), 1)

	// Once it ends, the run that is due starts at once, late.
	r.finish(t, r.history(t)[0], 0)
	acts = r.reconcile(t, JobOptions{})
	require.Equal(t, []JobActionKind{JobStarted}, kinds(acts))

	// deck job run is refused while it runs, unless forced.
	s := r.session(t)
	require.NoError(t, s.List(context.Background()))
	jobs, _, err := ReadJobs(context.Background(), s)
	require.NoError(t, err)
	_, err = s.StartJob(context.Background(), jobs[0], r.clock.Now(), JobOptions{}, false)
	require.ErrorIs(t, err, ErrJobBusy)
	a, err := s.StartJob(context.Background(), jobs[0], r.clock.Now(), JobOptions{}, true)
	require.NoError(t, err)
	assert.Equal(t, TriggerManual, a.Trigger)
	require.Len(t, r.history(t), 3)
	for _, run := range r.history(t) {
		r.finish(t, run, 0)
	}

	// With concurrency 2, a run that is due starts beside a running one.
	job := reportJob("@every 10s")
	job.Concurrency = 2
	_, err = r.deploy(t, job)
	require.NoError(t, err)
	r.clock.Advance(10 * time.Second)
	require.Equal(t, []JobActionKind{JobStarted}, kinds(r.reconcile(t, JobOptions{})))
	r.clock.Advance(10 * time.Second)
	require.Equal(t, []JobActionKind{JobStarted}, kinds(r.reconcile(t, JobOptions{})), "one runs, one more may")
	r.clock.Advance(10 * time.Second)
	assert.Equal(t, []JobActionKind{JobWaiting}, kinds(r.reconcile(t, JobOptions{})), "two run: the third waits")
}

func TestAFailedRunIsRetriedUpToRetries(t *testing.T) {
	r := newJobRig(t, 2)
	job := reportJob("@every 1h")
	job.Retries = 2
	_, err := r.deploy(t, job)
	require.NoError(t, err)
	r.clock.Advance(time.Hour)
	require.Equal(t, []JobActionKind{JobStarted}, kinds(r.reconcile(t, JobOptions{})))
	for attempt := 1; attempt <= 3; attempt++ {
		runs := r.history(t)
		require.Len(t, runs, attempt)
		assert.Equal(t, attempt, runs[0].Attempt)
		r.clock.Advance(time.Second)
		r.finish(t, runs[0], 3)
		acts := r.reconcile(t, JobOptions{})
		if attempt < 3 {
			require.Equal(t, []JobActionKind{JobStarted}, kinds(acts), "attempt %d failed: tried again", attempt)
			assert.Equal(t, TriggerRetry, acts[0].Trigger)
			assert.Equal(t, runs[0].Run, acts[0].Run, "a retry is the same run")
		} else {
			assert.Empty(t, acts, "no retries left")
		}
	}
	runs := r.history(t)
	require.Len(t, runs, 3)
	for _, run := range runs {
		assert.Equal(t, 3, run.ExitCode)
		assert.Equal(t, "the container exited with code 3", run.Reason)
	}
}

func TestARunPastItsTimeoutIsStoppedAndRetried(t *testing.T) {
	r := newJobRig(t, 1)
	job := reportJob("@daily")
	job.Timeout, job.Retries = 30*time.Second, 1
	_, err := r.deploy(t, job)
	require.NoError(t, err)
	r.clock.Advance(14 * time.Hour) // deployed at 10:00; @daily fires at midnight
	require.Equal(t, []JobActionKind{JobStarted}, kinds(r.reconcile(t, JobOptions{})))
	r.clock.Advance(29 * time.Second)
	assert.Empty(t, r.reconcile(t, JobOptions{}))
	r.clock.Advance(time.Second)
	acts := r.reconcile(t, JobOptions{})
	require.Equal(t, []JobActionKind{JobTimedOut, JobStarted}, kinds(acts))
	assert.Equal(t, "timed out after 30s", acts[0].Detail)
	assert.Equal(t, 2, acts[1].Attempt)

	runs := r.history(t)
	require.Len(t, runs, 2)
	assert.Equal(t, "timed out after 30s", runs[1].Reason, "the history says why the first attempt ended")
	assert.Equal(t, 143, runs[1].ExitCode)
	assert.Equal(t, "running", runs[0].State)
}

func TestHistoryKeepsTheNewestFinishedRuns(t *testing.T) {
	r := newJobRig(t, 2)
	_, err := r.deploy(t, reportJob("@every 10s"))
	require.NoError(t, err)
	var first string
	for i := 0; i < 4; i++ {
		r.clock.Advance(10 * time.Second)
		acts := r.reconcile(t, JobOptions{})
		if i == 0 {
			first = acts[0].Run
		}
		r.finish(t, r.history(t)[0], 0)
	}
	r.clock.Advance(time.Second)
	acts := r.reconcile(t, JobOptions{KeepRuns: 2})
	require.Equal(t, []JobActionKind{JobRemoved, JobRemoved}, kinds(acts), "four finished runs, two kept")
	assert.Equal(t, first, acts[0].Run, "the oldest goes first")
	assert.Len(t, r.history(t), 2)
}

func TestALostLockStopsReconcilingBeforeAnyWrite(t *testing.T) {
	r := newJobRig(t, 2)
	_, err := r.deploy(t, reportJob("@every 10s"))
	require.NoError(t, err)
	r.clock.Advance(10 * time.Second)
	s := r.session(t)
	require.NoError(t, s.List(context.Background()))
	lost := errors.New("lease taken over")
	_, err = s.ReconcileJobs(context.Background(), r.clock.Now(), JobOptions{Fence: func() error { return lost }})
	require.ErrorIs(t, err, executor.ErrLockLost)
	require.ErrorIs(t, err, lost)
	assert.Empty(t, r.history(t), "nothing was created")
}

func TestDeletingAJobRemovesItsRunsAndItsSchedule(t *testing.T) {
	r := newJobRig(t, 2)
	_, err := r.deploy(t, reportJob("@every 10s"))
	require.NoError(t, err)
	r.clock.Advance(10 * time.Second)
	r.reconcile(t, JobOptions{})
	require.Len(t, r.history(t), 1)

	d := Deploy{Target: Target{App: r.app, Env: r.env, Dialer: r.cloud}, Delete: []string{"report"}, Partial: true}
	out, err := d.Run(context.Background())
	out.Session.Close()
	require.NoError(t, err)
	assert.Empty(t, r.history(t), "its runs are gone")
	s := r.session(t)
	require.NoError(t, s.List(context.Background()))
	jobs, _, err := ReadJobs(context.Background(), s)
	require.NoError(t, err)
	assert.Empty(t, jobs, "and nothing starts it again")
	r.clock.Advance(time.Minute)
	assert.Empty(t, r.reconcile(t, JobOptions{}))
}

func TestRollingBackAJobReturnsToItsPreviousRevision(t *testing.T) {
	r := newJobRig(t, 2)
	_, err := r.deploy(t, reportJob("@daily"))
	require.NoError(t, err)
	v2 := reportJob("@daily")
	v2.Task.Command = []string{"/report", "--v2"}
	out, err := r.deploy(t, v2)
	require.NoError(t, err)
	assert.Equal(t, 2, out.Revisions["report"])

	d := Deploy{Target: Target{App: r.app, Env: r.env, Services: []manifest.ServiceSpec{v2}, Dialer: r.cloud},
		Rollback: &RollbackTarget{Service: "report"}}
	out, err = d.Run(context.Background())
	out.Session.Close()
	require.NoError(t, err)
	assert.Equal(t, 3, out.Revisions["report"], "the rollback is recorded as a new revision")
	s := r.session(t)
	require.NoError(t, s.List(context.Background()))
	jobs, _, err := ReadJobs(context.Background(), s)
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	assert.Equal(t, []string{"/report"}, jobs[0].Revision.Task.Command, "runs are made from revision 1's definition again")
}

func TestPendingJobsSaysWhatIsDueAndWritesNothing(t *testing.T) {
	r := newJobRig(t, 2)
	job := reportJob("@every 10s")
	job.Timeout = 5 * time.Second
	_, err := r.deploy(t, job)
	require.NoError(t, err)
	s := r.session(t)
	pending := func() []JobAction {
		require.NoError(t, s.List(context.Background()))
		acts, err := s.PendingJobs(context.Background(), r.clock.Now(), JobOptions{})
		require.NoError(t, err)
		return acts
	}
	assert.Empty(t, pending(), "nothing due: a controller takes no lock")
	r.clock.Advance(10 * time.Second)
	acts := pending()
	require.Equal(t, []JobActionKind{JobStarted}, kinds(acts))
	assert.True(t, acts[0].Writes())
	assert.Empty(t, r.history(t), "only said, not done")

	r.reconcile(t, JobOptions{})
	r.clock.Advance(5 * time.Second)
	assert.Equal(t, []JobActionKind{JobTimedOut}, kinds(pending()))
	assert.Equal(t, "running", r.history(t)[0].State, "not stopped")
	r.clock.Advance(5 * time.Second)
	assert.Equal(t, []JobActionKind{JobTimedOut, JobStarted}, kinds(pending()), "once stopped, the due run may start")
	assert.Len(t, r.history(t), 1)
	assert.False(t, JobAction{Kind: JobWaiting}.Writes(), "a run that waits changes nothing")
}

func TestARunThatCannotBeStoppedIsNotRetriedBesideItself(t *testing.T) {
	r := newJobRig(t, 1)
	job := reportJob("@daily")
	job.Timeout, job.Retries = 30*time.Second, 3
	_, err := r.deploy(t, job)
	require.NoError(t, err)
	r.clock.Advance(14 * time.Hour)
	r.reconcile(t, JobOptions{})
	r.cloud.Host("h1").FailStop = func(string) bool { return true }
	r.clock.Advance(time.Minute)
	acts := r.reconcile(t, JobOptions{})
	require.Equal(t, []JobActionKind{JobFailed}, kinds(acts), "the stop failed: no second attempt beside the first")
	assert.ErrorContains(t, acts[0].Err, "stopping the run past its timeout")
	assert.Len(t, r.history(t), 1)
}
