package cli

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// jsonLines decodes out, one TaskLineJSON a line.
func jsonLines(t *testing.T, out string) []TaskLineJSON {
	t.Helper()
	var lines []TaskLineJSON
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var tl TaskLineJSON
		require.NoError(t, json.Unmarshal([]byte(l), &tl), l)
		lines = append(lines, tl)
	}
	return lines
}

func TestTaskRunJSON(t *testing.T) {
	h := newHarness(t)
	code, _, errOut := h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)
	h.exitWith(3)
	code, out, errOut := h.run("task", "run", "api", "--env-vars", "STEPS=2", "-o", "json")
	assert.Equal(t, 3, code, "the task's exit code, as without JSON: %s", errOut)
	lines := jsonLines(t, out)
	require.Len(t, lines, 4, out)
	assert.Equal(t, "started", lines[0].Event)
	require.NotNil(t, lines[1].Line)
	assert.Equal(t, "step 1 of 2", *lines[1].Line)
	assert.Equal(t, lines[0].Task, lines[3].Task)
	assert.Equal(t, "ended", lines[3].Event)
	require.NotNil(t, lines[3].ExitCode)
	assert.Equal(t, 3, *lines[3].ExitCode)
	assert.Equal(t, "the container exited with code 3", lines[3].Reason)
	goldenJSON(t, "task-run.json", stable(h, out, false), true)

	h.exitWith(0)
	code, out, errOut = h.run("task", "run", "api", "--detach", "--count", "2", "-o", "json")
	require.Equal(t, 0, code, errOut)
	var d DetachedJSON
	require.NoError(t, json.Unmarshal([]byte(out), &d), out)
	require.Len(t, d.Tasks, 2)
	left := h.standalone()
	require.Len(t, left, 2)
	assert.ElementsMatch(t, []string{left[0].TaskID, left[1].TaskID}, []string{d.Tasks[0].TaskID, d.Tasks[1].TaskID})
	goldenJSON(t, "task-run-detach.json", stable(h, out, false), false)

	code, out, _ = h.run("task", "run", "web", "-o", "json")
	assert.Equal(t, 1, code)
	assert.Contains(t, errorOf(t, out).Message, "service web has no completed deploy")
}

var durations = regexp.MustCompile(`"duration": \d+`)

func TestJobRunJSON(t *testing.T) {
	h := newHarness(t)
	h.write("deck/report.yaml", reportManifest)
	code, _, errOut := h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)

	h.exitWith(4)
	code, out, errOut := h.run("job", "run", "report", "-o", "json")
	require.Equal(t, 0, code, errOut)
	var r JobRunJSON
	require.NoError(t, json.Unmarshal([]byte(out), &r), out)
	assert.Equal(t, []any{"report", 1, "manual"}, []any{r.Job, r.Attempt, r.Trigger})
	assert.NotEmpty(t, r.Run)
	goldenJSON(t, "job-run.json", stable(h, out, false), false)

	code, out, errOut = h.run("job", "run", "report", "--wait", "--force", "-o", "json")
	assert.Equal(t, 4, code, errOut)
	lines := jsonLines(t, out)
	require.Len(t, lines, 4, out)
	assert.Equal(t, []string{"started", "", "", "ended"}, []string{lines[0].Event, lines[1].Event, lines[2].Event, lines[3].Event})
	assert.Equal(t, "report", lines[0].Job)
	assert.NotEmpty(t, lines[0].Run)
	goldenJSON(t, "job-run-wait.json", stable(h, out, false), true)

	code, out, errOut = h.run("job", "history", "report", "-o", "json")
	require.Equal(t, 0, code, errOut)
	var hist JobHistoryReport
	require.NoError(t, json.Unmarshal([]byte(out), &hist), out)
	require.Len(t, hist.Runs, 2)
	goldenJSON(t, "job-history.json", durations.ReplaceAllString(stable(h, out, true), `"duration": 0`), false)
}
