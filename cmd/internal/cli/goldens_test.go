package cli

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/cmd/internal/iostreams"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/lock"
)

// The goldens in testdata pin the JSON of each command that prints data; -update rewrites
// them. The commands' own tests check what the values mean.

func TestVersionJSON(t *testing.T) {
	ios, _, out, _ := iostreams.Test()
	code := Main(context.Background(), []string{"version", "-o", "json"}, Deps{IO: ios, Version: "1.2.3", Commit: "0123abc"})
	require.Equal(t, 0, code)
	var v VersionJSON
	require.NoError(t, json.Unmarshal(out.Bytes(), &v))
	assert.Equal(t, VersionJSON{Version: "1.2.3", Commit: "0123abc", Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}, v)
	goldenJSON(t, "version.json", out.String(), false, runtime.Version(), "GO", `"`+runtime.GOOS+`"`, `"OS"`, `"`+runtime.GOARCH+`"`, `"ARCH"`)
}

func TestInitJSON(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "deck.yaml")
	run := func(args ...string) (int, string, string) {
		ios, _, out, errOut := iostreams.Test()
		code := Main(context.Background(), append([]string{"--file", file, "-o", "json", "init"}, args...), Deps{IO: ios})
		return code, out.String(), errOut.String()
	}
	code, out, errOut := run("--app", "shop", "--name", "web", "--type", "Load Balanced Web Service", "--build", ".")
	require.Equal(t, 0, code, errOut)
	var r InitJSON
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	assert.Equal(t, InitJSON{Service: "web", Type: "Load Balanced Web Service", Manifest: filepath.Join(dir, "deck", "web.yaml"),
		AppFile: file, App: "shop"}, r)
	assert.FileExists(t, r.Manifest)
	goldenJSON(t, "init.json", out, false, dir, "$DIR")

	// deck.yaml is there now: only the manifest is written.
	code, out, errOut = run("--name", "worker", "--type", "Worker Service", "--image", "x:1")
	require.Equal(t, 0, code, errOut)
	r = InitJSON{}
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	assert.Empty(t, r.AppFile)
	assert.Equal(t, filepath.Join(dir, "deck", "worker.yaml"), r.Manifest)

	code, out, _ = run("--name", "worker", "--type", "Worker Service", "--image", "x:1")
	assert.Equal(t, 1, code)
	assert.Contains(t, errorOf(t, out).Message, "worker.yaml exists; use --force")
}

func TestControllerOnceJSON(t *testing.T) {
	h := newHarness(t)
	code, _, errOut := h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)
	require.NoError(t, h.cloud.Host("h1").Die(h.cloud.Host("h1").Tasks()[0].ContainerID, 1))

	code, out, errOut := h.run("controller", "--once", "-o", "json")
	require.Equal(t, 0, code, errOut)
	var r OnceJSON
	require.NoError(t, json.Unmarshal([]byte(out), &r), out)
	require.Len(t, r.Environments, 1)
	assert.Equal(t, OnceEnvJSON{App: "shop", Env: "test", OK: true}, r.Environments[0])
	assert.Nil(t, r.Error)
	goldenJSON(t, "controller-once.json", out, false)

	// A task dies and its replacement cannot start.
	for _, n := range []string{"h1", "h2"} {
		h.cloud.Host(n).FailStart = func(providers.TaskSpec) error { return errors.New("no space left on device") }
	}
	require.NoError(t, h.cloud.Host("h2").Die(h.cloud.Host("h2").Tasks()[0].ContainerID, 1))
	code, out, _ = h.run("controller", "--once", "-o", "json")
	assert.Equal(t, 1, code)
	r = OnceJSON{}
	require.NoError(t, json.Unmarshal([]byte(out), &r), out)
	require.Len(t, r.Environments, 1)
	assert.False(t, r.Environments[0].OK)
	assert.NotEmpty(t, r.Environments[0].Error)
	require.NotNil(t, r.Error)
	assert.Equal(t, 1, r.Error.Code)
}

func TestLockJSON(t *testing.T) {
	h := newHarness(t)
	_, hosts, _ := historyFixture(h)
	code, out, errOut := h.run("lock", "status", "-o", "json")
	require.Equal(t, 0, code, errOut)
	assert.JSONEq(t, `{"held": false, "holder": null, "last_break": null}`, out)

	holdLock(t, hosts, lock.Holder{User: "bob", Machine: "ci-1", PID: 7, Command: "deck deploy", Why: "deploy"})
	ids := regexp.MustCompile(`"id": "[^"]+"`)
	code, out, errOut = h.run("lock", "status", "-o", "json")
	require.Equal(t, 0, code, errOut)
	goldenJSON(t, "lock-status.json", ids.ReplaceAllString(out, `"id": "ID"`), false)
	code, out, errOut = h.run("lock", "status")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `^The deploy lock is held by bob@ci-1 \(pid 7\) since \S+ \S+ UTC \(\d+s ago\), running "deck deploy" \(deploy\), `+
		`epoch \d+; it expires at \S+ \S+ UTC \(in \d+s\) unless renewed\.\n$`, out, "the text says what -o json does")

	code, out, errOut = h.run("lock", "release", "--force", "-o", "json")
	require.Equal(t, 0, code, errOut)
	var rel struct {
		Broken bool        `json:"broken"`
		Holder *HolderJSON `json:"holder"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rel), out)
	assert.True(t, rel.Broken)
	require.NotNil(t, rel.Holder)
	assert.Equal(t, "bob", rel.Holder.User)
	goldenJSON(t, "lock-release.json", ids.ReplaceAllString(out, `"id": "ID"`), false)

	code, out, errOut = h.run("lock", "release", "--force", "-o", "json")
	require.Equal(t, 0, code, errOut)
	assert.JSONEq(t, `{"broken": false, "holder": null}`, out)
}

// TestInspectingCommandsJSON pins status, plan, hosts, validate, events and logs.
func TestInspectingCommandsJSON(t *testing.T) {
	h := newHarness(t)
	withSecret(h, "registry.example/api:1")
	for _, c := range []struct{ golden, times string }{{"validate.json", ""}, {"plan.json", ""}} {
		args := []string{strings.TrimSuffix(c.golden, ".json"), "-o", "json"}
		code, out, errOut := h.run(args...)
		require.Contains(t, []int{0, 2}, code, errOut)
		assert.NotContains(t, out, secretValue)
		goldenJSON(t, c.golden, stable(h, out, false), false)
	}
	code, out, errOut := h.run("validate", "--env", "test", "-o", "json")
	require.Equal(t, 0, code, errOut)
	goldenJSON(t, "validate-env.json", stable(h, out, false), false)

	code, _, errOut = h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)
	h.cloud.Host("h1").WriteLog(h.cloud.Host("h1").Tasks()[0].ContainerID, "stdout", "listening on :8080")
	for _, c := range []struct {
		args   []string
		golden string
		lines  bool
	}{
		{[]string{"status"}, "status.json", false},
		{[]string{"hosts"}, "hosts.json", false},
		{[]string{"logs", "api"}, "logs.json", true},
	} {
		code, out, errOut := h.run(append(c.args, "-o", "json")...)
		require.Equal(t, 0, code, errOut)
		assert.NotContains(t, out, secretValue, c.golden)
		goldenJSON(t, c.golden, stable(h, out, true), c.lines)
	}

	// The tasks' events interleave as the hosts answer: the golden keeps one line of each
	// form, with the task and host replaced.
	code, out, errOut = h.run("events", "--service", "api", "-o", "json")
	require.Equal(t, 0, code, errOut)
	hostNames := regexp.MustCompile(`\bh[12]\b`)
	var forms []string
	for _, l := range strings.SplitAfter(out, "\n") {
		l = hostNames.ReplaceAllString(timestamps.ReplaceAllString(l, "TIME"), "HOST")
		l = taskIDs.ReplaceAllStringFunc(l, func(id string) string {
			if strings.HasPrefix(id, ":") {
				return id
			}
			return "TASK"
		})
		if l != "" && !slices.Contains(forms, l) {
			forms = append(forms, l)
		}
	}
	assert.Len(t, forms, 5, out)
	goldenJSON(t, "events.json", stable(h, strings.Join(forms, ""), true), true)
}

func TestTopJSONGolden(t *testing.T) {
	r := newTopRig(t)
	code, out, errOut := r.run("top", "--once", "-o", "json")
	require.Equal(t, 0, code, errOut)
	// Each task's line: the order follows the random task ids, and the CPU rates the time
	// between the two readings. The golden pins the shape with one task of each host.
	var top Top
	require.NoError(t, json.Unmarshal([]byte(out), &top))
	slices.SortFunc(top.Tasks, func(a, b TopTask) int { return strings.Compare(a.Host, b.Host) })
	top.Tasks = slices.CompactFunc(top.Tasks, func(a, b TopTask) bool { return a.Host == b.Host })
	require.Len(t, top.Tasks, 2)
	for i := range top.Tasks {
		require.NotNil(t, top.Tasks[i].VCPUs)
		*top.Tasks[i].VCPUs, *top.Tasks[i].CPUPercent = 0.5, 200
		top.Tasks[i].Requests = nil
	}
	for i := range top.Hosts {
		top.Hosts[i].VCPUs = 1
	}
	b, err := json.Marshal(top)
	require.NoError(t, err)
	goldenJSON(t, "top.json", stable(r.harness, string(b)+"\n", true), true)
}
