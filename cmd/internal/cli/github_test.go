package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/cmd/internal/ghactions"
)

// onRunner sets the variables and files a GitHub Actions runner gives a step.
func onRunner(t *testing.T, h *harness) (summary, output string) {
	t.Helper()
	files := t.TempDir()
	summary, output = filepath.Join(files, "summary.md"), filepath.Join(files, "output")
	require.NoError(t, os.WriteFile(summary, nil, 0o644))
	require.NoError(t, os.WriteFile(output, nil, 0o644))
	h.env["GITHUB_ACTIONS"] = "true"
	h.env["GITHUB_WORKSPACE"] = h.dir
	h.env["GITHUB_STEP_SUMMARY"] = summary
	h.env["GITHUB_OUTPUT"] = output
	return summary, output
}

func readOutputs(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	out, err := ghactions.ParseOutputs(string(b))
	require.NoError(t, err)
	return out
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func TestGitHubActionsPlanAndDeploy(t *testing.T) {
	h := newHarness(t)
	summary, output := onRunner(t, h)

	code, _, errOut := h.run("plan")
	require.Equal(t, 2, code, errOut)
	md := readFile(t, summary)
	assert.Contains(t, md, "## deck plan: app shop, environment test")
	assert.Contains(t, md, "```diff\n")
	assert.Regexp(t, `(?m)^\+   task \w+ on h\d`, md, "creates are marked at the line's start")
	assert.Contains(t, md, "Plan: 3 to create, 0 to replace, 0 to destroy.")
	assert.Equal(t, map[string]string{"create": "3", "verify": "0", "replace": "0", "destroy": "0", "changes": "true"}, readOutputs(t, output))

	require.NoError(t, os.WriteFile(output, nil, 0o644))
	require.NoError(t, os.WriteFile(summary, nil, 0o644))
	code, _, errOut = h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)
	outs := readOutputs(t, output)
	assert.Equal(t, "3", outs["create"])
	assert.Equal(t, `{"api":1}`, outs["revisions"])
	assert.Equal(t, "false", outs["rolled-back"])
	assert.Contains(t, outs, "endpoints")
	md = readFile(t, summary)
	assert.Contains(t, md, "## deck deploy: app shop, environment test")
	assert.Contains(t, md, "### Plan")
	assert.Regexp(t, `\| api \| 1 \| 3 \| 0 \| [^|]* \| ✅ deployed \|`, md)

	// Nothing to change: the plan says so and changes=false.
	require.NoError(t, os.WriteFile(output, nil, 0o644))
	code, _, errOut = h.run("plan")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "false", readOutputs(t, output)["changes"])
	assert.Contains(t, readFile(t, summary), "No changes.")
}

func TestGitHubActionsAnnotatesManifestErrors(t *testing.T) {
	h := newHarness(t)
	summary, _ := onRunner(t, h)
	h.write("deck/api.yaml", strings.Replace(apiManifest, "COUNT", "three", 1))
	code, out, _ := h.run("plan")
	assert.Equal(t, 1, code)
	assert.Regexp(t, `(?m)^::error file=deck/api\.yaml,line=7,col=8,title=deck%3A manifest error::count: .+$`, out)
	assert.Contains(t, readFile(t, summary), "| deck/api.yaml | 7 |")

	// With --output json the annotations go to stderr: stdout holds the JSON document.
	code, out, errOut := h.run("validate", "--output", "json")
	assert.Equal(t, 1, code)
	assert.NotContains(t, out, "::error")
	assert.Contains(t, errOut, "::error file=deck/api.yaml,line=7")

	// Off a runner: no workflow commands.
	h.env["GITHUB_ACTIONS"] = ""
	_, out, errOut = h.run("plan")
	assert.NotContains(t, out+errOut, "::error")
}

func TestPlanDiff(t *testing.T) {
	in := "service web  (revision 1)\n  wave 1\n  + task n1 on h1    count 0 -> 1\n  ~ task a on h1 -> n2 on h1    new revision\n  - task b on h2    deleted\n\n  + create   ~ replace   - destroy\n\nPlan: 1 to create, 1 to replace, 1 to destroy.\n"
	want := " service web  (revision 1)\n   wave 1\n+   task n1 on h1    count 0 -> 1\n!   task a on h1 -> n2 on h1    new revision\n-   task b on h2    deleted\n \n   + create   ~ replace   - destroy\n \n Plan: 1 to create, 1 to replace, 1 to destroy.\n"
	assert.Equal(t, want, planDiff(in))
}

func TestGitHubActionsPlanThatFailsIsInTheSummary(t *testing.T) {
	h := newHarness(t)
	summary, output := onRunner(t, h)
	h.cloud.Host("h1").SetDown(true)
	h.cloud.Host("h2").SetDown(true)
	code, _, errOut := h.run("plan")
	require.Equal(t, 1, code, errOut)
	md := readFile(t, summary)
	msg, ok := strings.CutPrefix(strings.TrimSpace(errOut), "Error: ")
	require.True(t, ok, errOut)
	assert.Contains(t, md, "## deck plan\n\n### Failed\n\n```text\n"+msg+"\n```\n", "the error deck printed")
	assert.Empty(t, readOutputs(t, output), "no plan, no outputs")
}
