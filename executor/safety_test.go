package executor

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner"
	"github.com/deckhq/deck/providers"
)

func TestCheckRefusesKindsAndActionsItDoesNotKnow(t *testing.T) {
	lb := &planner.Plan{Changes: []planner.Change{{Action: planner.Create, Kind: "lb-target", Service: "web", Host: "h1", TaskID: "t"}}}
	_, err := Apply(context.Background(), lb, Options{})
	assert.EqualError(t, err, `change 1 (service web) acts on a "lb-target", which this deck cannot apply; update deck`)

	odd := &planner.Plan{Changes: []planner.Change{{Action: "teleport", Kind: planner.KindTask, Service: "web"}}}
	assert.EqualError(t, Check(odd), `change 1 (service web) has action "teleport", which this deck cannot apply; update deck`)

	bare := &planner.Plan{Changes: []planner.Change{{Action: planner.Verify, Kind: planner.KindTask, Service: "web", Host: "h1"}}}
	assert.EqualError(t, Check(bare), "change 1 (service web, verify) lacks a host and the container to verify")
}

func TestFailedTaskKeepsItsStopReasonAndLastLogLines(t *testing.T) {
	w, h, old, plan := replaceOne(t)
	h.Exits = func(s providers.TaskSpec) (int, bool) { return 3, s.Labels[providers.LabelTask] == "new1" }
	var lines []string
	for i := range 25 {
		lines = append(lines, "line "+string(rune('a'+i)))
	}
	h.Output = func(providers.TaskSpec) []string { return lines }
	_, err := Apply(context.Background(), plan, w.opts())
	require.Error(t, err)
	fs := Failures(err)
	require.Len(t, fs, 1)
	f := fs[0]
	assert.Equal(t, "new1", f.TaskID)
	assert.Equal(t, 3, f.ExitCode)
	assert.Equal(t, lines[5:], f.Logs, "the last 20 lines, oldest first")
	assert.Contains(t, f.Detail(), "the container exited with code 3")
	assert.Contains(t, f.Detail(), "    | line y")
	tasks := h.Tasks()
	require.Len(t, tasks, 1, "the failed task was removed after it was read")
	assert.Equal(t, old.ContainerID, tasks[0].ContainerID)
}

func TestVerifyWaitsOnTheExistingTaskAndRemovesItWhenItFails(t *testing.T) {
	w := newWorld(t, 1)
	h := w.hosts[0]
	h.AddImage("img:1")
	r := rev("rev1", "img:1", cmdCheck)
	good, err := h.Run(context.Background(), TaskSpec(TaskInput{App: "app", Env: "test", Host: "h1", TaskID: "good", Rev: r}))
	require.NoError(t, err)
	bad, err := h.Run(context.Background(), TaskSpec(TaskInput{App: "app", Env: "test", Host: "h1", TaskID: "bad", Rev: r}))
	require.NoError(t, err)
	h.Healthy = func(s providers.TaskSpec) bool { return s.Labels[providers.LabelTask] != "bad" }
	plan := &planner.Plan{App: "app", Env: "test", Revisions: map[string]planner.Revision{"rev1": r},
		Services: []planner.ServicePlan{{Name: "web", Revision: "rev1", Desired: 2, Waves: 1}},
		Changes: []planner.Change{
			{Action: planner.Verify, Kind: planner.KindTask, Service: "web", Host: "h1", TaskID: "good", Existing: good.ContainerID, Revision: "rev1"},
			{Action: planner.Verify, Kind: planner.KindTask, Service: "web", Host: "h1", TaskID: "bad", Existing: bad.ContainerID, Revision: "rev1"},
		}}
	calls := len(h.Calls)
	_, err = Apply(context.Background(), plan, w.opts())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "task bad on h1: not healthy")
	tasks := h.Tasks()
	require.Len(t, tasks, 1)
	assert.Equal(t, good.ContainerID, tasks[0].ContainerID)
	for _, c := range h.Calls[calls:] {
		assert.NotContains(t, c, "create", "verify creates nothing")
	}
}

func TestFenceStopsTheDeployBeforeItsNextWrite(t *testing.T) {
	w, h, old, plan := replaceOne(t)
	o := w.opts()
	o.Fence = func() error { return errors.New("taken over by ci@runner (epoch 8)") }
	_, err := Apply(context.Background(), plan, o)
	require.ErrorIs(t, err, ErrLockLost)
	assert.Contains(t, err.Error(), "taken over by ci@runner (epoch 8)")
	tasks := h.Tasks()
	require.Len(t, tasks, 1, "nothing was created")
	assert.Equal(t, old.ContainerID, tasks[0].ContainerID)
}

func TestCreatedTasksCarryTheLockEpochAndTheDesiredState(t *testing.T) {
	w, h, _, plan := replaceOne(t)
	o := w.opts()
	o.Epoch = 42
	o.Desired = map[string]providers.DesiredState{"web": {Type: manifest.LoadBalancedWebService, Count: manifest.Count{Value: 3}}}
	_, err := Apply(context.Background(), plan, o)
	require.NoError(t, err)
	tasks := h.Tasks()
	require.Len(t, tasks, 1)
	m := providers.DecodeTaskLabels(h.TaskSpec(tasks[0].ContainerID).Labels)
	assert.Equal(t, uint64(42), m.Epoch)
	require.NotNil(t, m.Desired)
	assert.Equal(t, 3, m.Desired.Count.Value)
	assert.Equal(t, providers.LabelSchemaVersion, m.Schema)
}

func TestSecretNamesFitPodmansLimitWhateverTheNames(t *testing.T) {
	long := "a-very-long-name-that-goes-on-and-on-and-on"
	name := SecretName(long, long, long, "API_TOKEN_FOR_THE_UPSTREAM_SERVICE", SecretDigest(long, long, long, "API_TOKEN", []byte("v")))
	assert.LessOrEqual(t, len(name), 64)
	assert.Regexp(t, `^deck\.[0-9a-f]{12}\.[0-9a-f]{8}\.[0-9a-f]{32}$`, name)
	assert.NotEqual(t, SecretPrefix("app", "prod", "web"), SecretPrefix("app", "prod", "web-api"))
}

func TestARandomPortTakenBeforeStartIsRetriedOnce(t *testing.T) {
	w, h, _, plan := replaceOne(t)
	starts := 0
	h.FailStart = func(s providers.TaskSpec) error {
		if s.Labels[providers.LabelTask] != "new1" {
			return nil
		}
		starts++
		if starts == 1 {
			return errors.New("rootlessport listen tcp 0.0.0.0:41234: bind: address already in use")
		}
		return nil
	}
	res, err := Apply(context.Background(), plan, w.opts())
	require.NoError(t, err)
	assert.Len(t, res.Services[0].Created, 1)
	assert.Equal(t, 2, starts)
	assert.Len(t, h.Tasks(), 1, "the container that lost the race was removed")
}
