package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/planner/state"
	"github.com/deckhq/deck/providers"
)

// stopJob stops the job's runs (run: only that one) as deck job stop does, from a fresh read.
func (r *jobRig) stopJob(t *testing.T, run string) ([]JobAction, error) {
	t.Helper()
	s := r.session(t)
	require.NoError(t, s.List(context.Background()))
	job, err := FindJob(context.Background(), s, "report")
	require.NoError(t, err)
	return s.StopJob(context.Background(), job, run, "alice@laptop", r.clock.Now(), JobOptions{})
}

// A run stopped by hand is over: its attempt exits as a stopped container does (143),
// which the controller would otherwise retry, and it is not.
func TestAStoppedRunIsNotRetried(t *testing.T) {
	r := newJobRig(t, 2)
	job := reportJob("@every 1h")
	job.Retries = 2
	_, err := r.deploy(t, job)
	require.NoError(t, err)
	r.clock.Advance(time.Hour)
	require.Equal(t, []JobActionKind{JobStarted}, kinds(r.reconcile(t, JobOptions{})))
	runs := r.history(t)
	require.Len(t, runs, 1)

	acts, err := r.stopJob(t, "")
	require.NoError(t, err)
	require.Equal(t, []JobActionKind{JobStopped}, kinds(acts))
	assert.Equal(t, runs[0].Run, acts[0].Run)
	assert.Contains(t, r.cloud.Host(runs[0].Host).Calls, "stop "+runs[0].ContainerID)

	r.clock.Advance(time.Second)
	assert.Empty(t, r.reconcile(t, JobOptions{}), "the stopped run is not tried again, though the job has 2 retries")
	hist := r.history(t)
	require.Len(t, hist, 1)
	assert.Equal(t, 143, hist[0].ExitCode)
	assert.Contains(t, hist[0].Reason, "stopped by alice@laptop with deck job stop")

	_, err = r.stopJob(t, "")
	assert.ErrorContains(t, err, "job report has no run going")
	_, err = r.stopJob(t, runs[0].Run)
	assert.ErrorContains(t, err, "run "+runs[0].Run+" of job report has ended: stopped already")
	_, err = r.stopJob(t, "nosuch")
	assert.ErrorContains(t, err, "job report has no run nosuch")

	// The schedule goes on.
	r.clock.Advance(time.Hour)
	acts = r.reconcile(t, JobOptions{})
	require.Equal(t, []JobActionKind{JobStarted}, kinds(acts))
	assert.Equal(t, TriggerSchedule, acts[0].Trigger)
}

// A run whose attempt failed and waits for its retry is not retried once stopped; one
// that ran out of retries has ended, and the other runs are left alone.
func TestStoppingARunWaitingForItsRetry(t *testing.T) {
	r := newJobRig(t, 1)
	job := reportJob("@every 1h")
	job.Retries, job.Concurrency = 1, 2
	_, err := r.deploy(t, job)
	require.NoError(t, err)
	r.clock.Advance(time.Hour)
	require.Equal(t, []JobActionKind{JobStarted}, kinds(r.reconcile(t, JobOptions{})))
	first := r.history(t)[0]
	r.clock.Advance(time.Hour)
	require.Equal(t, []JobActionKind{JobStarted}, kinds(r.reconcile(t, JobOptions{})))
	r.clock.Advance(time.Second)
	r.finish(t, first, 3) // fails; its retry is due at the next reconcile

	acts, err := r.stopJob(t, first.Run)
	require.NoError(t, err)
	require.Len(t, acts, 1)
	assert.Contains(t, acts[0].Detail, "its retry is cancelled")
	assert.Empty(t, r.reconcile(t, JobOptions{}), "no retry of the stopped run")
	running := 0
	for _, h := range r.history(t) {
		if h.State == "running" {
			running++
		}
	}
	assert.Equal(t, 1, running, "the other run goes on")
}

func TestStopTasksStopsStandaloneTasksOnly(t *testing.T) {
	r := newRig(t, 2)
	r.cloud.Publish("tools:1")
	s := r.session(t)
	require.NoError(t, s.List(context.Background()))
	tasks, err := s.RunTask(context.Background(), TaskRequest{Image: "tools:1", Count: 2})
	require.NoError(t, err)
	require.Len(t, tasks, 2)

	require.NoError(t, s.List(context.Background()))
	_, err = s.StopTasks(context.Background(), []string{""})
	assert.ErrorContains(t, err, "matches 2 tasks", "an id that matches several stops nothing")
	_, err = s.StopTasks(context.Background(), []string{"nosuch"})
	assert.ErrorContains(t, err, "no standalone task nosuch")
	for _, tk := range tasks {
		assert.NotContains(t, r.cloud.Host(tk.Host).Calls, "stop "+tk.ContainerID)
	}

	stopped, err := s.StopTasks(context.Background(), []string{tasks[0].TaskID[:6]})
	require.NoError(t, err)
	require.Len(t, stopped, 1)
	assert.Equal(t, tasks[0].TaskID, stopped[0].TaskID)
	assert.Contains(t, r.cloud.Host(tasks[0].Host).Calls, "stop "+tasks[0].ContainerID)
	assert.NotContains(t, r.cloud.Host(tasks[1].Host).Calls, "stop "+tasks[1].ContainerID)

	require.NoError(t, s.List(context.Background()))
	stopped, err = s.StopTasks(context.Background(), []string{tasks[0].TaskID})
	require.NoError(t, err)
	assert.Empty(t, stopped, "an ended task is left as it is")
}

// A run stopped at its timeout failed, whatever its exit code: a program that exits 0 on
// SIGTERM, as it should, is no success. One that finished just in time is.
func TestATimedOutRunThatExits0Failed(t *testing.T) {
	started := time.Date(2026, 11, 22, 13, 17, 23, 0, time.UTC)
	run := func(ran time.Duration, code int) providers.Task {
		return providers.Task{State: "exited", ExitCode: code, FinishedAt: started.Add(ran),
			Meta: providers.TaskMeta{Kind: providers.KindJobRun, Started: started, Desired: &providers.DesiredState{Timeout: 5 * time.Second}}}
	}
	assert.Equal(t, "timed out after 5s", StopReason(run(5300*time.Millisecond, 0)))
	assert.Equal(t, failed, attemptOutcome(state.TaskState{Task: ptr(run(5300*time.Millisecond, 0)), HostReachable: true}, started.Add(time.Minute)))
	assert.Equal(t, "timed out after 5s", StopReason(run(4500*time.Millisecond, 143)), "non-zero: a second of slack for the clocks")
	assert.Equal(t, "", StopReason(run(4500*time.Millisecond, 0)), "done just in time")
	assert.Equal(t, succeeded, attemptOutcome(state.TaskState{Task: ptr(run(4500*time.Millisecond, 0)), HostReachable: true}, started.Add(time.Minute)))
}

func ptr[T any](v T) *T { return &v }

// A job's runs, one after another, are spread over the hosts: each goes where fewer ran.
func TestAJobsRunsAreSpread(t *testing.T) {
	r := newJobRig(t, 2)
	_, err := r.deploy(t, reportJob("@every 1h"))
	require.NoError(t, err)
	for range 4 {
		r.clock.Advance(time.Hour)
		require.Equal(t, []JobActionKind{JobStarted}, kinds(r.reconcile(t, JobOptions{})))
		r.clock.Advance(time.Second)
		r.finish(t, r.history(t)[0], 0)
	}
	per := map[string]int{}
	for _, run := range r.history(t) {
		per[run.Host]++
	}
	assert.Equal(t, map[string]int{"h1": 2, "h2": 2}, per)
}
