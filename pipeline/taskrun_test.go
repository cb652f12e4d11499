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
	"github.com/deckhq/deck/providers"
)

func TestRunTaskRunsAServicesTaskDefinitionToCompletion(t *testing.T) {
	r := newRig(t, 3)
	out, err := r.deploy(t, webService(2))
	require.NoError(t, err)
	rev := out.Plan.Services[0].Revision
	for _, h := range []string{"h1", "h2", "h3"} {
		r.cloud.Host(h).Output = func(spec providers.TaskSpec) []string {
			return []string{"migrating " + spec.Env["STEP"], "done"}
		}
	}
	s := r.session(t)
	require.NoError(t, s.List(context.Background()))
	tasks, err := s.RunTask(context.Background(), TaskRequest{Service: "web", Command: []string{"/migrate"},
		Env: map[string]string{"STEP": "3"}, Count: 3})
	require.NoError(t, err)
	require.Len(t, tasks, 3)
	hosts := map[string]bool{}
	for _, task := range tasks {
		hosts[task.Host] = true
		spec := r.cloud.Host(task.Host).TaskSpec(task.ContainerID)
		assert.Equal(t, []string{"/migrate"}, spec.Command)
		assert.Equal(t, "3", spec.Env["STEP"])
		assert.Equal(t, "web:1", spec.Image)
		assert.Equal(t, providers.KindStandalone, spec.Labels[providers.LabelKind])
		assert.Equal(t, rev, spec.Labels[providers.LabelRevision], "it says which revision it ran")
	}
	assert.Len(t, hosts, 3, "spread over the hosts, as a deploy places tasks")

	var lines []string
	go r.cloud.Host(tasks[0].Host).Finish(tasks[0].ContainerID, 3)
	require.NoError(t, s.FollowTask(context.Background(), tasks[0], func(l string) { lines = append(lines, l) }))
	assert.Equal(t, []string{"migrating 3", "done"}, lines)
	ended, err := s.WaitTask(context.Background(), tasks[0], time.Millisecond)
	require.NoError(t, err)
	assert.Equal(t, 3, ended.ExitCode)
	assert.Equal(t, "the container exited with code 3", StopReason(ended))

	// The service's count does not include them: a deploy changes nothing.
	out, err = r.deploy(t, webService(2))
	require.NoError(t, err)
	assert.True(t, out.Plan.Empty(), "standalone tasks are not the service's tasks")
	require.NoError(t, s.RemoveTask(context.Background(), tasks[0], time.Second))
	_, err = r.cloud.Host(tasks[0].Host).Inspect(context.Background(), tasks[0].ContainerID)
	assert.ErrorIs(t, err, providers.ErrNotFound)
}

func TestRunTaskOfAPlainImage(t *testing.T) {
	r := newRig(t, 2)
	r.cloud.Publish("tools:1")
	s := r.session(t)
	require.NoError(t, s.List(context.Background()))
	tasks, err := s.RunTask(context.Background(), TaskRequest{Image: "tools:1", Command: []string{"/bin/true"}})
	require.NoError(t, err)
	require.Len(t, tasks, 1)
	spec := r.cloud.Host(tasks[0].Host).TaskSpec(tasks[0].ContainerID)
	assert.Equal(t, int64(512), spec.MemoryMiB, "deck's default memory")
	assert.Equal(t, int64(manifest.DefaultLogMaxSize), spec.LogMaxSize, "deck's log cap")
	assert.Contains(t, r.cloud.Host(tasks[0].Host).Calls, "pull tools:1")

	_, err = s.RunTask(context.Background(), TaskRequest{Image: "nowhere:1"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nowhere:1")
	_, err = s.RunTask(context.Background(), TaskRequest{Image: "tools:1", Service: "web"})
	assert.ErrorContains(t, err, "exactly one")
	_, err = s.RunTask(context.Background(), TaskRequest{Service: "web"})
	assert.ErrorContains(t, err, "service web has no completed deploy")
	_, err = s.RunTask(context.Background(), TaskRequest{Image: "tools:1", Env: map[string]string{"DECK_APP": "x"}})
	assert.ErrorContains(t, err, "DECK_")
}

func TestATaskThatFailsToStartIsRemovedWithItsReason(t *testing.T) {
	r := newRig(t, 1)
	h := r.cloud.Host("h1")
	h.FailStart = func(providers.TaskSpec) error { return errors.New("executable file not found: /nope") }
	s := r.session(t)
	require.NoError(t, s.List(context.Background()))
	tasks, err := s.RunTask(context.Background(), TaskRequest{Image: "web:1", Command: []string{"/nope"}})
	require.Error(t, err)
	assert.Empty(t, tasks)
	var f *executor.TaskFailure
	require.ErrorAs(t, err, &f)
	assert.Contains(t, f.StopReason(), "/nope")
	assert.Empty(t, h.Tasks(), "nothing is left behind")
}

func TestCleanTasksRemovesEndedStandaloneTasksAfterTheirRetention(t *testing.T) {
	r := newJobRig(t, 1)
	s := r.session(t)
	require.NoError(t, s.List(context.Background()))
	tasks, err := s.RunTask(context.Background(), TaskRequest{Image: "report:1", Count: 2, Now: r.clock.Now()})
	require.NoError(t, err)
	h := r.cloud.Host("h1")
	h.Finish(tasks[0].ContainerID, 0)
	r.clock.Advance(30 * time.Minute)
	require.NoError(t, s.List(context.Background()))
	n, err := s.CleanTasks(context.Background(), r.clock.Now(), time.Hour, nil)
	require.NoError(t, err)
	assert.Zero(t, n, "ended 30 minutes ago: kept for an hour")
	r.clock.Advance(31 * time.Minute)
	require.NoError(t, s.List(context.Background()))
	n, err = s.CleanTasks(context.Background(), r.clock.Now(), time.Hour, nil)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	left := h.Tasks()
	require.Len(t, left, 1)
	assert.Equal(t, tasks[1].ContainerID, left[0].ContainerID, "the one still running stays")
}

func TestAStandaloneTaskDoesNotTakeTheServicesFixedHostPort(t *testing.T) {
	r := newRig(t, 1)
	svc := webService(1)
	svc.Task.Port, svc.Task.HostPort = 8080, 9000
	_, err := r.deploy(t, svc)
	require.NoError(t, err)
	s := r.session(t)
	require.NoError(t, s.List(context.Background()))
	tasks, err := s.RunTask(context.Background(), TaskRequest{Service: "web"})
	require.NoError(t, err, "the one host's port 9000 is the service's: the task publishes on a free one")
	spec := r.cloud.Host("h1").TaskSpec(tasks[0].ContainerID)
	assert.Equal(t, 8080, spec.Port)
	assert.Zero(t, spec.HostPort)
}
