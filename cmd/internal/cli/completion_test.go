package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/providers/history"
)

// complete runs deck __complete ARGS... (what the shell scripts run on Tab) and returns the
// words offered and the directive line.
func (h *harness) complete(args ...string) ([]string, string) {
	h.t.Helper()
	code, out, errOut := h.run(append([]string{"__complete"}, args...)...)
	require.Equal(h.t, 0, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) == 1 {
		return nil, lines[0]
	}
	require.NotEmpty(h.t, lines)
	return lines[:len(lines)-1], lines[len(lines)-1]
}

func TestCompletionOfServicesJobsAndEnvironments(t *testing.T) {
	h := newHarness(t)
	h.write("deck/web.yaml", "name: web\ntype: Load Balanced Web Service\nimage: {location: registry.example/web:1, port: 80}\n")
	h.write("deck/report.yaml", "name: report\ntype: Scheduled Job\nimage: {location: registry.example/r:1}\non: {schedule: \"@daily\"}\n")
	h.write("deck/broken.yaml", "name: [\n")

	for _, cmd := range [][]string{{"logs"}, {"exec"}, {"rollback"}, {"delete"}, {"history"}, {"task", "run"}} {
		words, directive := h.complete(append(cmd, "")...)
		assert.Equal(t, []string{"api", "report", "web"}, words, cmd)
		assert.Equal(t, ":4", directive, "no file names after a service: %v", cmd) // ShellCompDirectiveNoFileComp
	}
	for _, cmd := range [][]string{{"job", "run"}, {"job", "history"}} {
		words, _ := h.complete(append(cmd, "")...)
		assert.Equal(t, []string{"report"}, words, "only Scheduled Jobs for %v", cmd)
	}
	// The shell filters by the prefix typed; one argument only.
	words, _ := h.complete("logs", "api", "")
	assert.Empty(t, words)

	words, _ = h.complete("status", "--env", "")
	assert.Equal(t, []string{"test"}, words)

	// --file names the app: a directory without one completes nothing, and does not fail.
	words, _ = h.complete("--file", t.TempDir()+"/deck.yaml", "logs", "")
	assert.Empty(t, words)
}

func TestCompletionScripts(t *testing.T) {
	h := newHarness(t)
	for _, shell := range []string{"bash", "zsh", "fish"} {
		code, out, errOut := h.run("completion", shell)
		require.Equal(t, 0, code, errOut)
		assert.Contains(t, out, "__complete", shell)
	}
}

func TestCompletionOfRevisionsReadsTheHosts(t *testing.T) {
	h := newHarness(t)
	s, _, advance := historyFixture(h)
	deployThree(t, s, advance) // 1 completed, 2 rolled back, 3 in progress
	ctx := context.Background()
	require.NoError(t, s.Finish(ctx, "api", 3, history.Completed, ""))
	advance(time.Hour)
	fourth := apiRevision("registry.example/api:4", "deck deploy")
	fourth.Who, fourth.Message = "alice@laptop", "Faster checkout"
	_, err := s.Create(ctx, fourth)
	require.NoError(t, err)
	require.NoError(t, s.Finish(ctx, "api", 4, history.Completed, ""))

	words, directive := h.complete("rollback", "api", "--to", "")
	started := func(d time.Duration) string { return histBase.Add(d).Local().Format("2006-01-02 15:04") }
	assert.Equal(t, []string{
		"4\tcompleted " + started(3*time.Hour+18*time.Minute+time.Hour) + " by alice@laptop: Faster checkout",
		"3\tcompleted " + started(3*time.Hour+13*time.Minute) + " by github:octocat: Add a cart",
		"1\tcompleted " + started(0) + " by github:octocat: Add a cart",
	}, words, "completed revisions only (not 2, rolled back), newest first")
	assert.Equal(t, ":36", directive, "no file names, and the shell keeps deck's order") // NoFileComp|KeepOrder

	words, _ = h.complete("rollback", "web", "--to", "")
	assert.Empty(t, words, "a service with no revisions")
	words, _ = h.complete("rollback", "--to", "")
	assert.Empty(t, words, "no service named yet")

	// A manifest error: no words, and nothing printed that the shell would show.
	h.write("deck.yaml", "app: shop\nenvironments: {test: {hosts: [{name: h1, url: unix:///x, adress: 10.0.0.1}]}}\n")
	code, out, errOut := h.run("__complete", "rollback", "api", "--to", "")
	require.Equal(t, 0, code)
	assert.Equal(t, ":4\n", out, "no words, only the directive")
	assert.NotContains(t, errOut, "adress", "the error is not printed on Tab")
}
