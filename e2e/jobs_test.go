package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/podman"
)

// reportJob is a Scheduled Job made of examples/worker: it does one 200ms job and exits.
const reportJob = `name: report
type: Scheduled Job
image:
  build: .
cpu: 32
memory: 16
command: ["-jobs", "1"]
variables:
  INTERVAL: 200ms
on:
  schedule: "%SCHEDULE%"
stop_timeout: 2s
`

func report(schedule string) string { return strings.ReplaceAll(reportJob, "%SCHEDULE%", schedule) }

// onlyJob makes the worker example's app hold the report job alone.
func onlyJob(t *testing.T, a *app, schedule string) {
	t.Helper()
	require.NoError(t, os.Remove(filepath.Join(a.dir, "deck", "worker.yaml")))
	a.write("deck/report.yaml", report(schedule))
}

// kindOf lists app's containers of one kind (providers.KindJobRun, KindStandalone).
func kindOf(t *testing.T, hosts []providers.Task, kind string) []providers.Task {
	t.Helper()
	var out []providers.Task
	for _, c := range hosts {
		if c.Meta.Kind == kind {
			out = append(out, c)
		}
	}
	return out
}

// TestTaskRunExitsWithTheContainersExitCode runs the worker service's task definition as a
// standalone task, on real hosts, and its image by reference on every host.
func TestTaskRunExitsWithTheContainersExitCode(t *testing.T) {
	hosts := startHosts(t)
	a := newApp(t, "worker", hosts)
	r := a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())

	r = a.deck("task", "run", "worker", "--command=-jobs 1 -exit 3", "--env-vars", "INTERVAL=100ms")
	assert.Equal(t, 3, r.Code, r.String())
	assert.Contains(t, r.Stdout, "job 1 done")
	assert.Contains(t, r.Stdout, "exiting with code 3")
	assert.Contains(t, r.Stderr, "the container exited with code 3")
	all := containers(t, hosts, "worker")
	assert.Empty(t, kindOf(t, all, providers.KindStandalone), "removed once its exit code was read:\n%s", containerIDs(all))
	assert.Len(t, all, 2, "the service's two tasks run on")

	// Its image by reference, three at once: spread over the three hosts, so the image is
	// copied to the one the service's two tasks left without it.
	image := all[0].Meta.Spec.Image
	r = a.deck("task", "run", "--image", image, "--command=-jobs 2", "--env-vars", "INTERVAL=100ms", "--count", "3")
	require.Equal(t, 0, r.Code, r.String())
	assert.Len(t, regexp.MustCompile(`(?m): job \d done$`).FindAllString(r.Stdout, -1), 6, "two jobs from each of three tasks:\n%s", r.Stdout)
	assert.Regexp(t, `(?m)^[0-9a-f]{8} \| .*job 2 done$`, r.Stdout, "each line after its task id")
	for _, h := range []string{"h1", "h2", "h3"} {
		assert.Contains(t, r.Stderr, " on "+h+" (container ", "one task on each host")
	}

	r = a.deck("task", "run", "worker", "--command=-jobs 1", "--env-vars", "INTERVAL=5s", "--detach")
	require.Equal(t, 0, r.Code, r.String())
	id := strings.TrimSpace(r.Stdout)
	left := kindOf(t, containers(t, hosts, "worker"), providers.KindStandalone)
	require.Len(t, left, 1)
	assert.Equal(t, id, left[0].TaskID, "detached: it runs on, its id printed")
}

// TestJobDeployRunAndHistory deploys a Scheduled Job twice (its finished run is not run
// again), runs it with deck job run, and reads its history.
func TestJobDeployRunAndHistory(t *testing.T) {
	hosts := startHosts(t)
	a := newApp(t, "worker", hosts)
	onlyJob(t, a, "@daily")
	r := a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())
	assert.Contains(t, r.Stdout, "+ job report: schedule @daily (next run ")
	assert.Empty(t, containers(t, hosts, "worker"), "a deploy starts no run")

	r = a.deck("job", "run", "report", "--wait")
	require.Equal(t, 0, r.Code, r.String())
	assert.Contains(t, r.Stdout, "job 1 done")
	runID := strings.TrimSpace(strings.Split(r.Stdout, "\n")[0])

	for i := 0; i < 2; i++ {
		r = a.deck("deploy", "--yes")
		require.Equal(t, 0, r.Code, r.String())
		assert.Contains(t, r.Stdout, "No changes", "a finished run is not a task to replace")
	}
	runs := kindOf(t, containers(t, hosts, "worker"), providers.KindJobRun)
	require.Len(t, runs, 1, "the run count stays")
	assert.Equal(t, runID, runs[0].Meta.Run)
	assert.Equal(t, "exited", runs[0].State)

	r = a.deck("job", "history", "report")
	require.Equal(t, 0, r.Code, r.String())
	assert.Regexp(t, runID+`\s+1\s+manual\s+h\d\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\s+\d[\d.]*m?s\s+0\s+-`, r.Stdout)
	r = a.deck("job", "history", "report", "--output", "json")
	require.Equal(t, 0, r.Code, r.String())
	var doc struct {
		Runs []pipeline.JobRun `json:"runs"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &doc))
	require.Len(t, doc.Runs, 1)
	assert.Equal(t, 0, doc.Runs[0].ExitCode)
	assert.Greater(t, doc.Runs[0].Duration, 100*time.Millisecond, "it did its 200ms job")
	assert.Less(t, doc.Runs[0].Duration, 10*time.Second)
}

// TestScheduledJobRunsEveryTenSeconds: deck controller starts a job @every 10s on time:
// at least two runs in 32s, about 10s apart, each in deck job history with its exit code.
func TestScheduledJobRunsEveryTenSeconds(t *testing.T) {
	hosts := startHosts(t)
	a := newApp(t, "worker", hosts)
	onlyJob(t, a, "@every 10s")
	r := a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())
	deployed := time.Now()
	stop, _ := a.startController(nil)

	var runs []pipeline.JobRun
	waitFor(t, 35*time.Second, func() bool {
		r := a.deck("job", "history", "report", "--output", "json")
		require.Equal(t, 0, r.Code, r.String())
		var doc struct {
			Runs []pipeline.JobRun `json:"runs"`
		}
		require.NoError(t, json.Unmarshal([]byte(r.Stdout), &doc))
		runs = doc.Runs
		return len(runs) >= 2
	})
	within := time.Since(deployed)
	res := stop()
	t.Logf("two runs within %s of the deploy", within.Round(time.Millisecond))
	assert.Contains(t, res.Stderr, "job report: started", res.Stderr)
	starts := []time.Time{}
	for _, run := range runs {
		assert.Equal(t, pipeline.TriggerSchedule, run.Trigger)
		if run.State == "exited" {
			assert.Equal(t, 0, run.ExitCode)
		}
		starts = append(starts, run.Started)
	}
	slices.SortFunc(starts, func(x, y time.Time) int { return x.Compare(y) })
	assert.InDelta(t, 10*time.Second, starts[1].Sub(starts[0]), float64(2*time.Second), "10s apart")
}

// session opens the pipeline on the app's environment, as deck itself does.
func (a *app) session(t *testing.T) *pipeline.Session {
	t.Helper()
	lookup := func(k string) (string, bool) {
		for _, kv := range a.env {
			if name, v, ok := strings.Cut(kv, "="); ok && name == k {
				return v, true
			}
		}
		return "", false
	}
	app, err := manifest.LoadApp(filepath.Join(a.dir, "deck.yaml"), lookup)
	require.NoError(t, err)
	env, err := app.Environment("")
	require.NoError(t, err)
	s, err := pipeline.Open(context.Background(), pipeline.Target{App: app, Env: env, Dialer: podman.Dialer{}})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

// TestJobRunWaitFollowsTheRetries: deck job run --wait follows a failed attempt's retry,
// which the controller starts, and exits with the last attempt's code.
func TestJobRunWaitFollowsTheRetries(t *testing.T) {
	hosts := startHosts(t)
	a := newApp(t, "worker", hosts)
	require.NoError(t, os.Remove(filepath.Join(a.dir, "deck", "worker.yaml")))
	a.write("deck/report.yaml", strings.Replace(report("@yearly"), `command: ["-jobs", "1"]`,
		"command: [\"-jobs\", \"1\", \"-exit\", \"3\"]\nretries: 1", 1))
	r := a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())
	a.startController(nil)

	r = a.deck("job", "run", "report", "--wait", "--lock-wait", "30s")
	assert.Equal(t, 3, r.Code, r.String())
	assert.Contains(t, r.Stderr, "(exit code 3); following attempt 2 on ", r.String())
	assert.Equal(t, 2, strings.Count(r.Stdout, "exiting with code 3"), "both attempts' output:\n%s", r.Stdout)
	runs := kindOf(t, containers(t, hosts, "worker"), providers.KindJobRun)
	require.Len(t, runs, 2, "two attempts of one run")
	assert.Equal(t, runs[0].Meta.Run, runs[1].Meta.Run)
}
