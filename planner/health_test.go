package planner

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers/health"
)

// changesBy groups a plan's changes by action, naming the task each acts on (the old
// task for destroy, the new or verified one otherwise).
func changesBy(p *Plan) map[Action][]string {
	out := map[Action][]string{}
	for _, c := range p.Changes {
		id := c.TaskID
		if c.Action == Destroy {
			id = c.Old.TaskID
		}
		out[c.Action] = append(out[c.Action], id)
	}
	return out
}

func newRev() Desired {
	td := webTask()
	td.Variables = map[string]string{"GREETING": "bonjour"}
	return service("web", 6, td)
}

// The bug this guards: a deploy killed after creating its new tasks left 6 healthy old
// tasks and 6 new ones never seen healthy. The rerun planned "count 12 -> 6", stopped
// the healthy old tasks and kept the new ones unchecked. Nor may it stop the new ones
// and start 6 more from nothing (as it once did, "count 12 -> 6"): each new task is
// verified in place of an old one (on its host), and the old task stops only once the
// new one has passed, as a replacement's would.
func TestRerunAfterKilledRolloutVerifiesTheNewTasksInPlaceOfTheOld(t *testing.T) {
	h := newHarness(t).hosts(3, 8192, 16384)
	old := service("web", 6, webTask())
	next := newRev()
	for i := range 6 {
		h.run(fmt.Sprintf("h%d", i%3+1), old.Revision, fmt.Sprintf("old%d", i))
		id := fmt.Sprintf("new%d", i)
		h.run(fmt.Sprintf("h%d", i%3+1), next.Revision, id)
		h.health[id] = health.StateStarting
	}
	p := h.plan(next)
	by := changesBy(p)
	assert.ElementsMatch(t, []string{"new0", "new1", "new2", "new3", "new4", "new5"}, by[Verify],
		"the tasks an earlier run started are waited on, not stopped")
	assert.Empty(t, by[Destroy], "nothing stops before a new task has passed")
	assert.Empty(t, by[Replace], "no task starts from nothing")
	assert.Empty(t, by[Create])
	olds := map[string]bool{}
	for _, c := range p.Changes {
		require.NotNil(t, c.Old, "verify %s takes an old task's place", c.TaskID)
		assert.False(t, c.StopFirst, "min healthy 100%%: old task %s stops only after %s is healthy", c.Old.TaskID, c.TaskID)
		assert.Equal(t, c.Host, c.Old.Host, "paired on their host")
		assert.Equal(t, 0, c.Wave)
		olds[c.Old.TaskID] = true
	}
	assert.Len(t, olds, 6, "each old task is taken over once")
	var text strings.Builder
	require.NoError(t, RenderText(&text, p, nil))
	assert.Contains(t, text.String(), "? task old0 on h1 -> new0 on h1 ")
}

// Only the new tasks beyond the count take over old ones: with fewer new tasks than old,
// the rest of the old tasks are replaced by fresh tasks in waves, as a rollout goes.
func TestRerunAfterKilledRolloutReplacesTheOldTasksNoNewOneTookOver(t *testing.T) {
	h := newHarness(t).hosts(3, 8192, 16384)
	old := service("web", 6, webTask())
	next := newRev()
	for i := range 6 {
		h.run(fmt.Sprintf("h%d", i%3+1), old.Revision, fmt.Sprintf("old%d", i))
	}
	for i := range 2 {
		id := fmt.Sprintf("new%d", i)
		h.run(fmt.Sprintf("h%d", i%3+1), next.Revision, id)
		h.health[id] = health.StateStarting
	}
	p := h.plan(next)
	by := changesBy(p)
	assert.ElementsMatch(t, []string{"new0", "new1"}, by[Verify])
	assert.Len(t, by[Replace], 4, "the 4 old tasks no new one took over")
	assert.Empty(t, by[Destroy])
	assert.Empty(t, by[Create])
	for _, c := range p.Changes {
		if c.Action == Verify {
			require.NotNil(t, c.Old)
		}
		assert.False(t, c.StopFirst, "min healthy 100%%: every old task serves until its replacement passes (%s)", c.TaskID)
	}
	assert.Empty(t, p.Warnings, "the rollout is not stuck")

	// At max 150% (9 running), the two tasks being verified take two of the three places a
	// surge has beside the six old tasks: one replacement starts in the first wave.
	next.Service.Deployment = manifest.Deployment{Strategy: "default", MinHealthyPercent: 100, MaxPercent: 150}
	p = h.plan(next)
	first := 0
	for _, c := range p.Changes {
		if c.Action == Replace && c.Wave == 0 {
			first++
		}
	}
	assert.Equal(t, 1, first, "6 old + 2 verifying + 1 new = 9 at most")
}

func TestRerunAfterKilledColdDeployVerifiesWhatItStarted(t *testing.T) {
	h := newHarness(t).hosts(3, 8192, 16384)
	web := service("web", 6, webTask())
	for i := range 3 {
		id := fmt.Sprintf("n%d", i)
		h.run(fmt.Sprintf("h%d", i+1), web.Revision, id)
		h.health[id] = health.StateStarting
	}
	p := h.plan(web)
	by := changesBy(p)
	assert.ElementsMatch(t, []string{"n0", "n1", "n2"}, by[Verify])
	assert.Len(t, by[Create], 3)
	assert.False(t, p.Empty(), "a plan with tasks to verify is not 'No changes'")
	for _, c := range p.Changes {
		if c.Action == Verify {
			assert.Equal(t, ReasonStarting, c.Reason.Code)
			assert.NotEmpty(t, c.Existing)
		}
	}
	assert.Equal(t, map[string]int{"h1": 2, "h2": 2, "h3": 2}, hostsOf(p), "new tasks spread around the verified ones")
}

func TestUnhealthyTaskOfTheDesiredRevisionIsReplacedAtOnce(t *testing.T) {
	h := newHarness(t).hosts(2, 8192, 16384)
	web := service("web", 2, webTask())
	h.run("h1", web.Revision, "good")
	h.run("h2", web.Revision, "sick")
	h.health["sick"] = health.StateUnhealthy
	p := h.plan(web)
	require.Len(t, p.Changes, 1)
	c := p.Changes[0]
	assert.Equal(t, Replace, c.Action)
	assert.Equal(t, "sick", c.Old.TaskID)
	assert.True(t, c.StopFirst, "a task that does not serve is stopped first")
	assert.Equal(t, ReasonUnhealthy, c.Reason.Code)
	assert.Contains(t, Describe(c.Reason), "task is unhealthy (probe said unhealthy)")
}

func TestCountDownStopsUnhealthyAndUnknownFirst(t *testing.T) {
	h := newHarness(t).hosts(2, 8192, 16384)
	web := service("web", 2, webTask())
	h.run("h1", web.Revision, "ok1")
	h.run("h1", web.Revision, "sick")
	h.run("h2", web.Revision, "ok2")
	h.run("h2", web.Revision, "unknown")
	h.health["sick"] = health.StateUnhealthy
	h.health["unknown"] = ""
	p := h.plan(web)
	assert.ElementsMatch(t, []string{"sick", "unknown"}, changesBy(p)[Destroy])
	assert.Len(t, p.Changes, 2)
}

func TestStartingTaskOfAnOldRevisionIsReplaced(t *testing.T) {
	h := newHarness(t).hosts(1, 8192, 16384)
	old := service("web", 1, webTask())
	next := newRev()
	next.Service.Count.Value = 1
	h.run("h1", old.Revision, "o1")
	h.health["o1"] = health.StateStarting
	p := h.plan(next)
	require.Len(t, p.Changes, 1)
	assert.Equal(t, Replace, p.Changes[0].Action)
	assert.True(t, p.Changes[0].StopFirst, "it never served, so stopping it first drops nothing")
}

func TestRecreateRerunVerifiesTasksItDidNotSeeHealthy(t *testing.T) {
	h := newHarness(t).hosts(2, 8192, 16384)
	web := service("web", 2, webTask(), func(s *manifest.ServiceSpec) {
		s.Deployment = manifest.Deployment{Strategy: "recreate"}
	})
	h.run("h1", web.Revision, "r1")
	h.run("h2", web.Revision, "r2")
	h.health["r1"] = health.StateStarting
	h.health["r2"] = health.StateStarting
	p := h.plan(web)
	assert.ElementsMatch(t, []string{"r1", "r2"}, changesBy(p)[Verify])
	assert.Len(t, p.Changes, 2)
}

// The revision id is a digest of the task definition. Pinning it means a deck upgrade that
// adds a TaskDef field (empty for existing services) cannot change every revision id and
// so replace every running task: a new field must be omitempty, and this must not change
// (806cd88016a6 is what deck computed before labels were versioned).
func TestRevisionDigestIsPinned(t *testing.T) {
	td := manifest.TaskDef{Image: "web:1", Port: 8080, CPU: 256, Memory: 512,
		Variables:   map[string]string{"GREETING": "hello"},
		Secrets:     []manifest.SecretRef{{Name: "TOKEN", Digest: "00ff"}},
		Healthcheck: &manifest.Healthcheck{Path: "/healthz", Interval: 10_000_000_000, Timeout: 5_000_000_000, Retries: 2}}
	assert.Equal(t, "806cd88016a6", NewRevision("web", td).ID)
}

// With room for two tasks a host, 3 old tasks and one new one taking over old0 on h1 (as
// a rollout at 100%/150% killed after its first start leaves them): the verify fills the
// surge room, so wave 0 is the verify alone (not "no room"), and the other two old tasks
// are replaced one at a time after it, in the room old0 leaves.
func TestRerunVerifyFillsTheSurgeRoom(t *testing.T) {
	h := newHarness(t).hosts(3, 4096, 1024)
	old := service("web", 3, webTask())
	next := newRev()
	next.Service.Count.Value = 3
	next.Service.Deployment = manifest.Deployment{Strategy: "default", MinHealthyPercent: 100, MaxPercent: 150}
	for i := range 3 {
		h.run(fmt.Sprintf("h%d", i+1), old.Revision, fmt.Sprintf("old%d", i))
	}
	h.run("h1", next.Revision, "new0")
	h.health["new0"] = health.StateStarting
	p := h.plan(next)
	waves := map[int][]string{}
	for _, c := range p.Changes {
		require.NotNil(t, c.Old)
		waves[c.Wave] = append(waves[c.Wave], string(c.Action)+" "+c.Old.TaskID+"->"+c.TaskID)
	}
	assert.Equal(t, []string{"verify old0->new0"}, waves[0])
	assert.Len(t, waves[1], 1, "then one replacement at a time (4 running at most)")
	assert.Len(t, waves[2], 1)
	assert.Empty(t, p.Warnings)
}
