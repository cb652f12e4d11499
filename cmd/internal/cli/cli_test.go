package cli

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/cmd/internal/iostreams"
	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/fake"
)

const appFile = `app: shop
environments:
  test:
    hosts:
      - name: h1
        url: unix:///run/fake/h1.sock
        attributes: {zone: a}
      - name: h2
        url: unix:///run/fake/h2.sock
        attributes: {zone: b}
`

const apiManifest = `name: api
type: Backend Service
image:
  location: registry.example/api:1
cpu: 256
memory: 128
count: COUNT
variables:
  MODE: fast
healthcheck:
  command: ["/api", "-check"]
  interval: 1s
  timeout: 1s
`

type harness struct {
	t     *testing.T
	dir   string
	cloud *fake.Cloud
	env   map[string]string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	dir := t.TempDir()
	h := &harness{t: t, dir: dir, cloud: fake.NewCloud(), env: map[string]string{}}
	for _, n := range []string{"h1", "h2"} {
		h.cloud.AddHost(manifest.HostSpec{Name: n}, manifest.Resources{CPU: 2048, Memory: 4096})
	}
	h.cloud.Publish("registry.example/api:1")
	h.write("deck.yaml", appFile)
	h.write("config.yaml", "# an empty config file keeps the user's own out of the tests\n")
	h.write("deck/api.yaml", strings.Replace(apiManifest, "COUNT", "3", 1))
	return h
}

func (h *harness) write(rel, body string) {
	h.t.Helper()
	p := filepath.Join(h.dir, rel)
	require.NoError(h.t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(h.t, os.WriteFile(p, []byte(body), 0o644))
}

// run runs deck with args against the fake hosts; not on a terminal.
func (h *harness) run(args ...string) (code int, stdout, stderr string) {
	h.t.Helper()
	ios, _, out, errOut := iostreams.Test()
	deps := Deps{IO: ios, Dialer: h.cloud, LookupEnv: func(k string) (string, bool) {
		v, ok := h.env[k]
		return v, ok
	}}
	args = append([]string{"--file", filepath.Join(h.dir, "deck.yaml"), "--config", filepath.Join(h.dir, "config.yaml")}, args...)
	code = Main(context.Background(), args, deps)
	return code, out.String(), errOut.String()
}

func (h *harness) tasks() int {
	n := 0
	for _, name := range []string{"h1", "h2"} {
		n += len(h.cloud.Host(name).Tasks())
	}
	return n
}

func TestPlanExitCodesAndDeploy(t *testing.T) {
	h := newHarness(t)
	code, out, errOut := h.run("plan")
	require.Equal(t, 2, code, errOut)
	assert.Contains(t, out, "Plan: 3 to create, 0 to replace, 0 to destroy.")

	code, out, errOut = h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, 3, h.tasks())
	assert.Contains(t, out, "✓ api: 3 started, 0 stopped")
	// Not a terminal: plain timestamped progress lines.
	assert.Regexp(t, `(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ  task-healthy service=api host=h\d`, errOut)

	code, out, _ = h.run("plan")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "No changes")
}

func TestDeployOffTerminalNeedsYes(t *testing.T) {
	h := newHarness(t)
	code, _, errOut := h.run("deploy")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "run again with --yes")
	assert.Equal(t, 0, h.tasks(), "nothing was changed")
}

func TestYesFromEnvironmentVariable(t *testing.T) {
	h := newHarness(t)
	t.Setenv("DECK_YES", "true")
	code, _, errOut := h.run("deploy")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, 3, h.tasks())
}

func TestValidateReportsEveryErrorAndChangesNothing(t *testing.T) {
	h := newHarness(t)
	h.write("deck/api.yaml", strings.Replace(strings.Replace(apiManifest, "COUNT", "three", 1), "memory: 128", "memroy: 128", 1))
	code, _, errOut := h.run("validate")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "api.yaml:6:1")
	assert.Contains(t, errOut, `did you mean "memory"`)
	assert.Contains(t, errOut, "api.yaml:7:8")
	assert.Contains(t, errOut, "2 manifest errors; nothing was changed.")

	code, _, _ = h.run("deploy", "--yes")
	assert.Equal(t, 1, code)
	assert.Equal(t, 0, h.tasks())
}

func TestSavedPlanIsRefusedWhenHostsChanged(t *testing.T) {
	h := newHarness(t)
	planFile := filepath.Join(h.dir, "plan.json")
	code, _, errOut := h.run("plan", "--out", planFile)
	require.Equal(t, 2, code, errOut)

	// Another deploy happens in between.
	code, _, errOut = h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)
	before := h.tasks()

	code, _, errOut = h.run("deploy", "--yes", "--plan", planFile)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "the hosts changed since the plan was made")
	assert.Contains(t, errOut, "Run deck plan again")
	assert.Equal(t, before, h.tasks())

	h.write("deck/api.yaml", strings.Replace(apiManifest, "COUNT", "4", 1))
	code, _, errOut = h.run("plan", "--out", planFile)
	require.Equal(t, 2, code, errOut)
	code, _, errOut = h.run("deploy", "--yes", "--plan", planFile)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, 4, h.tasks())
}

// A saved plan that only scales in names no revision of its own, but is refused all the
// same when a secret changed since: applied, it would leave the old value running as if
// the plan were still the deploy's.
func TestSavedPlanIsRefusedWhenASecretChangedThoughItCreatesNothing(t *testing.T) {
	h := newHarness(t)
	withSecret(h, "registry.example/api:1")
	code, _, errOut := h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)
	scaleIn := strings.Replace(apiManifest, "COUNT", "2", 1) + "secrets:\n  DB_PASSWORD: {from_env: DB_PW}\n"
	h.write("deck/api.yaml", scaleIn)
	planFile := filepath.Join(h.dir, "plan.json")
	code, out, errOut := h.run("plan", "--out", planFile)
	require.Equal(t, 2, code, errOut)
	require.Contains(t, out, "Plan: 0 to create, 0 to replace, 1 to destroy")

	h.env["DB_PW"] = "another-value"
	code, _, errOut = h.run("deploy", "--yes", "--plan", planFile)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "service api changed since plan "+planFile+" was made (its manifest, image or a secret changed: it now gives revision")
	assert.NotContains(t, errOut, "another-value")
	assert.Equal(t, 3, h.tasks(), "nothing was applied")

	h.env["DB_PW"] = secretValue
	code, _, errOut = h.run("deploy", "--yes", "--plan", planFile)
	require.Equal(t, 0, code, "with the secret as it was, the plan applies: %s", errOut)
	assert.Equal(t, 2, h.tasks())

	// A plan that starts a revision names what changed since.
	h.write("deck/api.yaml", strings.Replace(scaleIn, "MODE: fast", "MODE: slow", 1))
	code, _, errOut = h.run("plan", "--out", planFile)
	require.Equal(t, 2, code, errOut)
	h.write("deck/api.yaml", strings.Replace(scaleIn, "MODE: fast", "MODE: turbo", 1))
	code, _, errOut = h.run("deploy", "--yes", "--plan", planFile)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "service api changed since plan "+planFile+" was made (its variables changed: it now gives revision")
}

func TestStatusJSONAndDelete(t *testing.T) {
	h := newHarness(t)
	code, _, errOut := h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)
	h.cloud.Host("h2").SetDown(true)

	code, out, errOut := h.run("status", "--output", "json")
	require.Equal(t, 0, code, errOut)
	var st Status
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	require.Len(t, st.Services, 1)
	s := st.Services[0]
	require.NotNil(t, s.Desired)
	assert.Equal(t, 3, *s.Desired)
	assert.Equal(t, len(h.cloud.Host("h1").Tasks()), s.Running)
	assert.Equal(t, s.Running, s.Healthy)
	require.Len(t, st.Hosts, 2)
	assert.True(t, st.Hosts[0].Reachable)
	assert.False(t, st.Hosts[1].Reachable)
	assert.Contains(t, st.Hosts[1].Error, "connection refused")
	assert.Equal(t, int64(256*s.Running), st.Hosts[0].Used.CPU)

	code, out, _ = h.run("plan")
	assert.Equal(t, 2, code)
	assert.Contains(t, out, "host h2 is unreachable")

	h.cloud.Host("h2").SetDown(false)
	code, _, errOut = h.run("delete", "api", "--yes")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, 0, h.tasks())
	code, _, errOut = h.run("delete", "api", "--yes")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "service api has no tasks")
}

func TestInitWithFlagsOffTerminal(t *testing.T) {
	dir := t.TempDir()
	ios, _, _, errOut := iostreams.Test()
	file := filepath.Join(dir, "deck.yaml")
	code := Main(context.Background(), []string{"--file", file, "init", "--app", "shop", "--name", "web",
		"--type", "Load Balanced Web Service", "--port", "8080", "--build", "."}, Deps{IO: ios})
	require.Equal(t, 0, code, errOut.String())
	_, err := os.Stat(filepath.Join(dir, "deck", "web.yaml"))
	require.NoError(t, err)
	_, svcs, err := func() (*manifest.App, []manifest.ServiceSpec, error) {
		app, err := manifest.LoadApp(file, func(string) (string, bool) { return "", false })
		if err != nil {
			return nil, nil, err
		}
		env, err := app.Environment("")
		if err != nil {
			return nil, nil, err
		}
		s, err := manifest.LoadServices(app, env.Name, func(string) (string, bool) { return "", false })
		return app, s, err
	}()
	require.NoError(t, err)
	require.Len(t, svcs, 1)
	assert.Equal(t, 8080, svcs[0].Task.Port)

	ios, _, _, errOut = iostreams.Test()
	code = Main(context.Background(), []string{"--file", file, "init", "--type", "Worker Service"}, Deps{IO: ios})
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut.String(), "--name is required when not on a terminal")
}

func TestSettingsComeFromFlagsThenEnvironmentThenConfigFile(t *testing.T) {
	h := newHarness(t)
	h.write("config.yaml", "output: json\n")
	code, out, errOut := h.run("hosts")
	require.Equal(t, 0, code, errOut)
	assert.True(t, strings.HasPrefix(out, "["), "the config file asks for JSON: %s", out)

	t.Setenv("DECK_OUTPUT", "table")
	code, out, _ = h.run("hosts")
	require.Equal(t, 0, code)
	assert.True(t, strings.HasPrefix(out, "HOST"), "DECK_OUTPUT beats the config file: %s", out)

	code, out, _ = h.run("hosts", "--output", "json")
	require.Equal(t, 0, code)
	assert.True(t, strings.HasPrefix(out, "["), "a flag beats DECK_OUTPUT: %s", out)

	t.Setenv("DECK_OUTPUT", "yaml")
	code, _, errOut = h.run("hosts")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `--output must be table or json, not "yaml"`)
}

// actReader runs act when the prompt first reads its answer: what happens on the hosts
// while a user looks at the plan.
type actReader struct {
	act  func()
	r    io.Reader
	done bool
}

func (a *actReader) Read(p []byte) (int, error) {
	if !a.done {
		a.done = true
		a.act()
	}
	return a.r.Read(p)
}

func TestDeployPlansAgainWhenTheHostsChangedWhileAtThePrompt(t *testing.T) {
	h := newHarness(t)
	ios, _, out, errOut := iostreams.Test()
	ios.SetTTY(true)
	ios.In = &actReader{r: strings.NewReader("y\nn\n"), act: func() {
		// Another deploy starts a task of the app in the meantime.
		h.cloud.Host("h2").AddImage("registry.example/api:1")
		_, err := h.cloud.Host("h2").Run(context.Background(), providers.TaskSpec{Name: "other", Image: "registry.example/api:1",
			Labels: map[string]string{providers.LabelManaged: "true", providers.LabelApp: "shop", providers.LabelEnv: "test", providers.LabelService: "api"}})
		require.NoError(t, err)
	}}
	deps := Deps{IO: ios, Dialer: h.cloud, LookupEnv: func(string) (string, bool) { return "", false }}
	code := Main(context.Background(), []string{"--file", filepath.Join(h.dir, "deck.yaml"), "--config", filepath.Join(h.dir, "config.yaml"), "deploy"}, deps)
	assert.Equal(t, 1, code)
	assert.Contains(t, out.String(), "3 to create, 0 to replace")
	assert.Contains(t, errOut.String(), "the hosts changed while deck waited for the lock")
	assert.Equal(t, 2, strings.Count(errOut.String(), "Apply this plan? [y/N]"), "the new plan is shown and asked about again")
	assert.Contains(t, errOut.String(), "Cancelled; nothing was changed.")
	assert.Equal(t, 1, h.tasks(), "only the other deploy's task runs")
}

// `deck status 2>/dev/null | cat` printed colour codes: colour on stdout must follow
// stdout's terminal, not stderr's.
func TestColourFollowsTheStreamItIsWrittenTo(t *testing.T) {
	h := newHarness(t)
	code, _, errOut := h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)
	status := func(outTTY, errTTY bool) string {
		ios, _, out, _ := iostreams.Test()
		ios.SetStreamTTY(false, outTTY, errTTY)
		deps := Deps{IO: ios, Dialer: h.cloud, LookupEnv: func(string) (string, bool) { return "", false }}
		args := []string{"--file", filepath.Join(h.dir, "deck.yaml"), "--config", filepath.Join(h.dir, "config.yaml"), "status"}
		require.Equal(t, 0, Main(context.Background(), args, deps))
		return out.String()
	}
	assert.NotContains(t, status(false, true), "\x1b[", "stdout piped, stderr on a terminal: no colour on stdout")
	assert.Contains(t, status(true, false), "\x1b[32mhealthy", "stdout on a terminal: colour")
}

func TestBadLockFlagsAreRefusedBeforeAnythingRuns(t *testing.T) {
	h := newHarness(t)
	code, _, errOut := h.run("deploy", "--yes", "--lock-ttl", "500ms")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "--lock-ttl must be at least 2s")
	assert.Equal(t, 0, h.tasks(), "nothing was deployed")

	code, _, errOut = h.run("controller", "--once", "--lock-ttl", "500ms")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "--lock-ttl must be at least 2s")
}

// The controller's deploy lock lives as long as its leader lease unless --lock-ttl says
// otherwise: a leader that dies in the middle of a change must not keep its successor
// from acting for longer than the lease.
func TestControllerLockTTLIsTheLeaseByDefault(t *testing.T) {
	cs := manifest.DefaultController()
	cs.Lease = 4 * time.Second
	assert.Equal(t, 4*time.Second, controllerLockTTL(0, cs))
	assert.Equal(t, 45*time.Second, controllerLockTTL(45*time.Second, cs))
}
