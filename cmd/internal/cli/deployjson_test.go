package cli

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/cmd/internal/iostreams"
	"github.com/deckhq/deck/providers"
)

const secretValue = "hunter2-do-not-print"

// withSecret gives api a secret whose value must never be printed.
func withSecret(h *harness, image string) {
	h.env["DB_PW"] = secretValue
	m := strings.Replace(apiManifest, "COUNT", "3", 1)
	m = strings.Replace(m, "registry.example/api:1", image, 1)
	h.write("deck/api.yaml", m+"secrets:\n  DB_PASSWORD: {from_env: DB_PW}\n")
}

func decodeReport(t *testing.T, out string) DeployReport {
	t.Helper()
	var r DeployReport
	require.NoError(t, json.Unmarshal([]byte(out), &r), out)
	return r
}

func TestDeployJSONIsOneReport(t *testing.T) {
	h := newHarness(t)
	withSecret(h, "registry.example/api:1")
	code, out, errOut := h.run("deploy", "--yes", "-o", "json")
	require.Equal(t, 0, code, errOut)
	assert.NotContains(t, out, secretValue)
	assert.NotContains(t, errOut, secretValue)
	r := decodeReport(t, out)
	assert.True(t, r.Applied)
	require.Len(t, r.Services, 1)
	assert.Equal(t, 1, r.Services[0].Revision)
	assert.Len(t, r.Services[0].Started, 3)
	assert.Equal(t, 3, h.tasks())
	assert.False(t, r.RolledBack)
	assert.Nil(t, r.Error)
	goldenJSON(t, "deploy.json", stable(h, out, false), false)

	// Nothing to do: the empty plan, nothing applied.
	code, out, errOut = h.run("deploy", "--yes", "-o", "json")
	require.Equal(t, 0, code, errOut)
	r = decodeReport(t, out)
	assert.False(t, r.Applied)
	require.NotNil(t, r.Plan)
	assert.True(t, r.Plan.Empty())
	assert.Empty(t, r.Services)
}

func TestDeployJSONWithoutYesOffATerminalIsTheErrorDocument(t *testing.T) {
	h := newHarness(t)
	code, out, errOut := h.run("deploy", "-o", "json")
	assert.Equal(t, 1, code)
	assert.Empty(t, errOut, "the plan is not shown: nobody is asked about it")
	r := decodeReport(t, out)
	require.NotNil(t, r.Error)
	assert.Contains(t, r.Error.Message, "run again with --yes")
	assert.False(t, r.Applied)
	assert.Equal(t, 0, h.tasks())
}

func TestDeployJSONThatRollsBack(t *testing.T) {
	h := newHarness(t)
	code, _, errOut := h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)
	for _, n := range []string{"h1", "h2"} {
		fh := h.cloud.Host(n)
		fh.Exits = func(s providers.TaskSpec) (int, bool) { return 3, s.Image == "registry.example/api:2" }
	}
	h.cloud.Publish("registry.example/api:2")
	withSecret(h, "registry.example/api:2")
	code, out, errOut := h.run("deploy", "--yes", "-o", "json")
	assert.Equal(t, 1, code, errOut)
	assert.NotContains(t, out, secretValue)
	r := decodeReport(t, out)
	assert.True(t, r.RolledBack)
	require.Len(t, r.Rollbacks, 1, "the rollback is listed, though it had nothing to undo")
	assert.Equal(t, "api", r.Rollbacks[0].Name)
	require.NotNil(t, r.Error)
	assert.Equal(t, 1, r.Error.Code)
	assert.Contains(t, r.Error.Message, "deploy failed: service api: revision 2")
	require.NotEmpty(t, r.Error.Failures)
	f := r.Error.Failures[0]
	assert.Equal(t, "api", f.Service)
	assert.Equal(t, 3, f.ExitCode)
	assert.Contains(t, f.StopReason, "exited with code 3")
	assert.Contains(t, errOut, "task "+f.TaskID+" on "+f.Host+": "+f.StopReason+"\n    ", "the failures are on stderr too, for the CI log")
	assert.Equal(t, 3, h.tasks(), "revision 1 serves again")
	assert.Equal(t, 1, strings.Count(out, "\n}\n"), "one document: %s", out)
}

func TestRollbackAndDeleteJSON(t *testing.T) {
	h := newHarness(t)
	code, _, errOut := h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)
	h.cloud.Publish("registry.example/api:2")
	withSecret(h, "registry.example/api:2")
	code, _, errOut = h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)

	code, out, errOut := h.run("rollback", "api", "--yes", "-o", "json")
	require.Equal(t, 0, code, errOut)
	assert.NotContains(t, out, secretValue)
	r := decodeReport(t, out)
	assert.Equal(t, "rollback", r.Verb)
	require.Len(t, r.Services, 1)
	assert.Equal(t, 3, r.Services[0].Revision, "the rollback is recorded as revision 3")
	assert.Equal(t, 3, r.Services[0].Stopped)
	goldenJSON(t, "rollback.json", stable(h, out, false), false)

	code, out, errOut = h.run("delete", "api", "--yes", "-o", "json")
	require.Equal(t, 0, code, errOut)
	r = decodeReport(t, out)
	assert.Equal(t, "delete", r.Verb)
	require.Len(t, r.Services, 1)
	assert.Equal(t, 3, r.Services[0].Stopped)
	assert.Equal(t, 0, h.tasks())
	goldenJSON(t, "delete.json", stable(h, out, false), false)

	// Nothing left to delete: the error, in the report with its (empty) plan.
	code, out, _ = h.run("delete", "api", "--yes", "-o", "json")
	assert.Equal(t, 1, code)
	r = decodeReport(t, out)
	require.NotNil(t, r.Error)
	assert.Contains(t, r.Error.Message, "service api has no tasks")
}

// On a terminal without --yes, the plan to confirm is shown as text on stderr; stdout keeps
// the one report.
func TestDeployJSONOnATerminalAsksAboutTheTextPlan(t *testing.T) {
	h := newHarness(t)
	ios, _, out, errOut := iostreams.Test()
	ios.SetTTY(true)
	ios.In = strings.NewReader("y\n")
	deps := Deps{IO: ios, Dialer: h.cloud, LookupEnv: func(string) (string, bool) { return "", false }}
	code := Main(context.Background(), []string{"--file", filepath.Join(h.dir, "deck.yaml"), "--config",
		filepath.Join(h.dir, "config.yaml"), "deploy", "-o", "json"}, deps)
	require.Equal(t, 0, code, errOut.String())
	assert.Contains(t, errOut.String(), "Plan: 3 to create, 0 to replace, 0 to destroy.")
	assert.Contains(t, errOut.String(), "Apply this plan? [y/N]")
	r := decodeReport(t, out.String())
	assert.True(t, r.Applied)
	assert.Equal(t, 3, h.tasks())
}

func TestDeleteJSONSaysWhatBecameOfTheVolumes(t *testing.T) {
	h := newHarness(t)
	withVolume(h, "api")
	withVolume(h, "worker") // shares the volume: removing it fails while worker runs
	code, _, errOut := h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)

	code, out, errOut := h.run("delete", "api", "--yes", "-o", "json")
	require.Equal(t, 0, code, errOut)
	r := decodeReport(t, out)
	require.NotNil(t, r.Volumes)
	assert.Equal(t, VolumesJSON{Kept: []string{"shop.test.data"}}, *r.Volumes)

	// No tasks left; the volume is still used by worker's: the report carries the error.
	code, out, _ = h.run("delete", "api", "--volumes", "--yes", "-o", "json")
	assert.Equal(t, 1, code)
	r = decodeReport(t, out)
	require.NotNil(t, r.Error)
	assert.Contains(t, r.Error.Message, "some volumes of service api were left")
	require.NotNil(t, r.Volumes)
	assert.Empty(t, r.Volumes.Removed)

	code, _, errOut = h.run("delete", "worker", "--yes")
	require.Equal(t, 0, code, errOut)
	code, out, errOut = h.run("delete", "api", "--volumes", "--yes", "-o", "json")
	require.Equal(t, 0, code, errOut)
	r = decodeReport(t, out)
	require.NotNil(t, r.Volumes)
	assert.Equal(t, VolumesJSON{Removed: []string{"shop.test.data"}}, *r.Volumes)
	assert.Empty(t, h.volumes())
}
