package cli

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
