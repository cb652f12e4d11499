package cli

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/cmd/internal/iostreams"
	"github.com/deckhq/deck/providers"
)

const reportManifest = `name: report
type: Scheduled Job
image:
  location: registry.example/api:1
cpu: 64
memory: 32
command: ["/api", "report"]
on:
  schedule: "@daily"
retries: 1
`

// exitWith makes every standalone task and job run of the harness's hosts print two lines
// and exit at once with code.
func (h *harness) exitWith(code int) {
	for _, n := range []string{"h1", "h2"} {
		fh := h.cloud.Host(n)
		fh.Exits = func(s providers.TaskSpec) (int, bool) { return code, s.Labels[providers.LabelKind] != "" }
		fh.Output = func(s providers.TaskSpec) []string { return []string{"step 1 of " + s.Env["STEPS"], "done"} }
	}
}

func (h *harness) standalone() []providers.Task {
	var out []providers.Task
	for _, n := range []string{"h1", "h2"} {
		for _, t := range h.cloud.Host(n).Tasks() {
			if t.Meta.Kind == providers.KindStandalone {
				out = append(out, t)
			}
		}
	}
	return out
}

func TestTaskRunFlags(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	var got *TaskRunOptions
	cmd := NewCmdTaskRun(Deps{IO: ios}, &Globals{}, func(o *TaskRunOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"api", "--command", "/api migrate --to 'v 2'", "--env-vars", "A=1", "--env-vars", "B=x=y", "--count", "2", "--detach"})
	require.NoError(t, cmd.Execute())
	req, err := got.request()
	require.NoError(t, err)
	assert.Equal(t, "api", req.Service)
	assert.Equal(t, []string{"/api", "migrate", "--to", "v 2"}, req.Command)
	assert.Equal(t, map[string]string{"A": "1", "B": "x=y"}, req.Env)
	assert.Equal(t, 2, req.Count)
	assert.True(t, got.Detach)

	for _, bad := range []TaskRunOptions{{}, {Service: "api", Image: "x:1", Count: 1}, {Image: "x:1", Count: 0},
		{Image: "x:1", Count: 1, Env: []string{"NOEQUALS"}}, {Image: "x:1", Count: 1, Command: "'unclosed"}} {
		_, err := bad.request()
		var fe *FlagError
		assert.ErrorAs(t, err, &fe, "%+v", bad)
	}
}

func TestTaskRunExitsWithTheTasksExitCode(t *testing.T) {
	h := newHarness(t)
	code, _, errOut := h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)
	h.exitWith(3)
	code, out, errOut := h.run("task", "run", "api", "--command", "/api migrate", "--env-vars", "STEPS=2")
	assert.Equal(t, 3, code, errOut)
	assert.Equal(t, "step 1 of 2\ndone\n", out, "its output, on stdout")
	assert.Regexp(t, `Task [0-9a-f]{8} on h\d: the container exited with code 3`, errOut)
	assert.Empty(t, h.standalone(), "removed once its exit code was read")
	assert.Equal(t, 3, h.tasks(), "the service's tasks are untouched")

	h.exitWith(0)
	code, out, errOut = h.run("task", "run", "api", "--env", "test", "--count", "2", "--env-vars", "STEPS=1")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `(?m)^[0-9a-f]{8} \| step 1 of 1$`, out, "several tasks: each line after its task id; --env is the environment")

	code, out, errOut = h.run("task", "run", "api", "--detach")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `^[0-9a-f]{8}\n$`, out)
	left := h.standalone()
	require.Len(t, left, 1, "a detached task is left for its output to be read")
	assert.Equal(t, strings.TrimSpace(out), left[0].TaskID)
	h.cloud.Publish("tools:1")
	code, _, errOut = h.run("task", "run", "--image", "tools:1", "--detach")
	require.Equal(t, 0, code, errOut)

	code, out, errOut = h.run("status", "--output", "json")
	require.Equal(t, 0, code, errOut)
	var st Status
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	require.Len(t, st.Services, 1, "an image's task belongs to no service: %+v", st.Services)
	assert.Equal(t, 3, st.Services[0].Running, "the detached task is not in api's count")
	assert.Len(t, st.Services[0].Tasks, 4, "but it is listed with the service's tasks")

	code, _, errOut = h.run("task", "run", "web")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "service web has no completed deploy")
}

func TestJobRunAndHistory(t *testing.T) {
	h := newHarness(t)
	h.write("deck/report.yaml", reportManifest)
	code, out, errOut := h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "+ job report: schedule @daily (next run ")
	assert.Contains(t, out, "1 job change.")

	h.exitWith(0)
	code, out, errOut = h.run("job", "run", "report", "--wait")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, errOut, "Started run ")
	assert.Contains(t, out, "step 1 of \ndone\n")

	h.exitWith(4)
	code, _, errOut = h.run("job", "run", "report", "--wait")
	assert.Equal(t, 4, code, errOut)
	assert.Contains(t, errOut, "the container exited with code 4")
	assert.Contains(t, errOut, "The job has 1 retry, which deck controller starts, but no controller leads environment test now.",
		"no retry is waited for without a controller")

	code, out, errOut = h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "No changes", "finished runs are not tasks to replace")

	code, out, errOut = h.run("job", "history", "report")
	require.Equal(t, 0, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3, out)
	assert.Regexp(t, `^RUN\s+ATTEMPT\s+TRIGGER\s+HOST\s+STARTED\s+DURATION\s+EXIT\s+REASON`, lines[0])
	assert.Regexp(t, `^[0-9a-f]{8}\s+1\s+manual\s+h\d\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\s+\S+\s+4\s+the container exited with code 4$`, lines[1])
	assert.Regexp(t, `\s0\s+-$`, lines[2])

	code, out, errOut = h.run("job", "history", "report", "--output", "json")
	require.Equal(t, 0, code, errOut)
	var r JobHistoryReport
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Len(t, r.Runs, 2)
	assert.Equal(t, 4, r.Runs[0].ExitCode)

	code, out, errOut = h.run("status", "--output", "json")
	require.Equal(t, 0, code, errOut)
	var st Status
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	for _, s := range st.Services {
		if s.Name == "report" {
			assert.Nil(t, s.Desired, "a job is a schedule, not a count")
			assert.Len(t, s.Tasks, 2, "its runs are listed")
		}
	}

	code, _, errOut = h.run("job", "history", "nosuch")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "has no Scheduled Job nosuch")
}

func TestTaskStopAndJobStop(t *testing.T) {
	h := newHarness(t)
	h.write("deck/report.yaml", reportManifest)
	code, _, errOut := h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)

	code, out, errOut := h.run("task", "run", "api", "--detach")
	require.Equal(t, 0, code, errOut)
	id := strings.TrimSpace(out)
	code, _, errOut = h.run("task", "stop", "nosuch")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "no standalone task nosuch")
	code, out, errOut = h.run("task", "stop", id[:4], "--output", "json")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, errOut, "Stopped task "+id+" on h")
	var stopped []StoppedJSON
	require.NoError(t, json.Unmarshal([]byte(out), &stopped))
	require.Len(t, stopped, 1)
	assert.Equal(t, id, stopped[0].TaskID)
	left := h.standalone()
	require.Len(t, left, 1, "kept for its logs")
	assert.False(t, left[0].Running())

	code, out, errOut = h.run("job", "run", "report")
	require.Equal(t, 0, code, errOut)
	run := strings.TrimSpace(out)
	code, _, errOut = h.run("job", "stop", "report")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, errOut, "Stopped run "+run+" of job report (attempt 1")
	code, out, errOut = h.run("job", "history", "report")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `stopped by \S+@\S+ with deck job stop at `, out)
	code, _, errOut = h.run("job", "stop", "report")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "job report has no run going")
}

// A run whose container failed to start is not "running" in the history.
func TestJobHistoryOfARunThatFailedToStart(t *testing.T) {
	h := newHarness(t)
	h.write("deck/report.yaml", reportManifest)
	code, _, errOut := h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)
	for _, n := range []string{"h1", "h2"} {
		h.cloud.Host(n).FailStart = func(providers.TaskSpec) error { return errors.New(`exec: "/nonexistent": no such file`) }
	}
	code, _, errOut = h.run("job", "run", "report")
	assert.Equal(t, 1, code, errOut)
	code, out, errOut := h.run("job", "history", "report")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `\s1\s+manual\s+h\d\s+.*UTC\s+never ran\s+-\s+the container failed to start`, out)
	assert.NotContains(t, out, "running")

	h.cloud.Host("h2").SetDown(true)
	code, out, errOut = h.run("job", "history", "report", "--output", "json")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, errOut, "Host h2 is unreachable; the runs it holds are left out")
	var r JobHistoryReport
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	assert.Equal(t, []string{"h2"}, r.Unreachable)
}
