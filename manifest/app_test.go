package manifest

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadAppHosts(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"deck.yaml": `app: hello
environments:
  test:
    hosts_file: ${HOSTS_FILE}
    hosts:
      - name: h1
        url: unix:///run/h1/podman.sock
        attributes: {zone: a}
        reserved: {cpu: 100, memory: 256}
        capacity: {cpu: 2048, memory: 4096}
      - name: h2
        url: ssh://deck@10.77.0.12:2222/run/podman/podman.sock
        identity: ~/.ssh/deck
      - name: h3
        url: ssh://core@node3/run/user/1000/podman/podman.sock
        identity: keys/deck
        known_hosts: ./known
        address: 10.77.0.13
`,
		"hosts/test.yaml": "- name: f1\n  url: unix:///run/${DECK_ENV}/f1.sock\n",
		"home/.ssh/deck":  "", "keys/deck": "",
	})
	home := filepath.Join(dir, "home")
	app, err := LoadApp(filepath.Join(dir, "deck.yaml"), mapLookup(map[string]string{"HOME": home, "HOSTS_FILE": "hosts/test.yaml"}))
	require.NoError(t, err)
	assert.Equal(t, "hello", app.Name)
	assert.Equal(t, dir, app.Dir)
	assert.Empty(t, app.ServiceFiles)
	env, err := app.Environment("test")
	require.NoError(t, err)
	assert.Equal(t, []HostSpec{
		{Name: "h1", URL: "unix:///run/h1/podman.sock", Address: "127.0.0.1", Attributes: map[string]string{"zone": "a"},
			Reserved: Resources{CPU: 100, Memory: 256}, Capacity: &Resources{CPU: 2048, Memory: 4096}},
		{Name: "h2", URL: "ssh://deck@10.77.0.12:2222/run/podman/podman.sock", Address: "10.77.0.12",
			Identity: filepath.Join(home, ".ssh/deck"), KnownHosts: filepath.Join(home, ".ssh/known_hosts")},
		{Name: "h3", URL: "ssh://core@node3/run/user/1000/podman/podman.sock", Address: "10.77.0.13",
			Identity: filepath.Join(dir, "keys/deck"), KnownHosts: filepath.Join(dir, "known")},
		{Name: "f1", URL: "unix:///run/test/f1.sock", Address: "127.0.0.1"},
	}, env.Hosts)
}

func TestEnvironment(t *testing.T) {
	const oneEnv = "app: hello\nenvironments:\n  test:\n    hosts: [{name: h1, url: 'unix:///run/podman/podman.sock'}]\n"
	tests := []struct {
		name     string
		deck     string
		env      string
		lookup   map[string]string
		wantName string
		wantURL  string
		implicit bool
		wantErr  string
	}{
		{name: "the only one", deck: oneEnv, wantName: "test", wantURL: "unix:///run/podman/podman.sock"},
		{name: "by name", deck: testApp, env: "prod", wantName: "prod", wantURL: "ssh://deck@10.0.0.1/run/podman/podman.sock"},
		{name: "several and none chosen", deck: testApp, wantErr: "2 environments are configured (prod, test); choose one with --env (or DECK_ENV)"},
		{name: "unknown", deck: testApp, env: "tset", wantErr: `environment "tset" is not configured; did you mean "test"? valid: prod, test`},
		{name: "none configured is local", deck: "app: hello\n", lookup: map[string]string{"CONTAINER_HOST": "unix:///tmp/p.sock"},
			wantName: "local", wantURL: "unix:///tmp/p.sock", implicit: true},
		{name: "local by name", deck: "app: hello\n", env: "local", lookup: map[string]string{"CONTAINER_HOST": "unix:///tmp/p.sock"},
			wantName: "local", wantURL: "unix:///tmp/p.sock", implicit: true},
		{name: "none configured, another asked", deck: "app: hello\n", env: "prod", wantErr: `environment "prod" is not configured: this deck.yaml has no environments`},
		{name: "deferred errors surface when chosen", deck: testApp + "  ci:\n    hosts_file: ${CI_HOSTS}\n", env: "ci",
			wantErr: "deck.yaml:13:17: environments.ci.hosts_file: variable CI_HOSTS is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"deck.yaml": tt.deck, testKey: ""})
			app, err := LoadApp(filepath.Join(dir, "deck.yaml"), mapLookup(tt.lookup))
			require.NoError(t, err, "problems of one environment do not stop the others")
			env, err := app.Environment(tt.env)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantName, env.Name)
			assert.Equal(t, tt.implicit, env.Implicit)
			require.NotEmpty(t, env.Hosts)
			assert.Equal(t, tt.wantURL, env.Hosts[0].URL)
		})
	}
}

func TestImplicitEnvironmentOverSSH(t *testing.T) {
	dir := writeFiles(t, map[string]string{"deck.yaml": "app: hello\n"})
	app, err := LoadApp(filepath.Join(dir, "deck.yaml"), mapLookup(map[string]string{
		"CONTAINER_HOST": "ssh://core@10.0.0.5/run/podman/podman.sock", "CONTAINER_SSHKEY": "~/.ssh/id", "HOME": "/home/u"}))
	require.NoError(t, err)
	env, err := app.Environment("")
	require.NoError(t, err)
	assert.Equal(t, []HostSpec{{Name: "local", URL: "ssh://core@10.0.0.5/run/podman/podman.sock", Address: "10.0.0.5",
		Identity: "/home/u/.ssh/id", KnownHosts: "/home/u/.ssh/known_hosts"}}, env.Hosts)
}

func TestLocalURL(t *testing.T) {
	tests := []struct {
		name   string
		env    map[string]string
		euid   int
		expect string
	}{
		{"CONTAINER_HOST wins", map[string]string{"CONTAINER_HOST": "ssh://u@h/run/p.sock", "XDG_RUNTIME_DIR": "/run/user/5"}, 0, "ssh://u@h/run/p.sock"},
		{"root", nil, 0, "unix:///run/podman/podman.sock"},
		{"rootless", map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000"}, 1000, "unix:///run/user/1000/podman/podman.sock"},
		{"rootless without XDG_RUNTIME_DIR", nil, 1001, "unix:///run/user/1001/podman/podman.sock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.expect, localURL(mapLookup(tt.env), tt.euid))
		})
	}
}

func TestLoadAppErrorsAreAList(t *testing.T) {
	dir := writeFiles(t, map[string]string{"deck.yaml": "app: hello\nenvironments: {test: {hosts: [{name: a, url: 'unix:///x'}, {name: a, url: 'unix:///y'}]}}\nextra: 1\n"})
	_, err := LoadApp(filepath.Join(dir, "deck.yaml"), mapLookup(nil))
	var list ErrorList
	require.ErrorAs(t, err, &list)
	require.Len(t, list, 2)
	assert.Equal(t, 2, list[0].Line)
	assert.Equal(t, "environments.test.hosts[1].name", list[0].Path)
	assert.Equal(t, "extra", list[1].Path)

	_, err = LoadApp(filepath.Join(dir, "missing.yaml"), nil)
	assert.EqualError(t, err, filepath.Join(dir, "missing.yaml")+": file does not exist")
}

// A hosts_file that is not on this machine waits until its environment is chosen, but a
// typo elsewhere in that environment is reported at once: deck validate on a laptop
// must catch it even when the hosts file exists only on the CI runner.
func TestTypoBesideAnAbsentHostsFileIsReportedAtOnce(t *testing.T) {
	dir := writeFiles(t, map[string]string{"deck.yaml": `app: hello
environments:
  prod:
    hosts_file: /nowhere/prod-hosts.yaml
    load_balancer:
      - {name: edge, host: h1, provider: caddy}
    controller: {host_grace: 15s}
`})
	_, err := LoadApp(filepath.Join(dir, "deck.yaml"), mapLookup(nil))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `deck.yaml:5:5: environments.prod.load_balancer: unknown key "load_balancer"; did you mean "load_balancers"?`)
	assert.NotContains(t, err.Error(), "has no hosts", "its hosts are in the file it cannot read yet")

	// Without the typo it loads; the absent file is the chosen environment's error.
	dir = writeFiles(t, map[string]string{"deck.yaml": `app: hello
environments:
  prod:
    hosts_file: /nowhere/prod-hosts.yaml
    load_balancers:
      - {name: edge, host: h1, provider: caddy, admin: /run/caddy/admin.sock}
`})
	app, err := LoadApp(filepath.Join(dir, "deck.yaml"), mapLookup(nil))
	require.NoError(t, err)
	_, err = app.Environment("prod")
	assert.ErrorContains(t, err, "hosts file /nowhere/prod-hosts.yaml does not exist")
}

// TestUnsetVariableHidesNoTypo: an environment whose ${VAR} is unset here (CI sets it) is
// still read for everything else, so a typo in it fails deck validate on a laptop; nothing
// is said about the unexpanded value itself until the environment is chosen.
func TestUnsetVariableHidesNoTypo(t *testing.T) {
	dir := writeFiles(t, map[string]string{"deck.yaml": testApp + `  ci:
    hosts_file: ${CI_HOSTS}
    hosts: [{name: web-1, url: "unix:///run/podman/podman.sock", adress: 10.0.0.5}]
    load_balancers: [{name: edge, host: "${LB_HOST}", admin: /run/caddy/admin.sock}]
    controller: {lease: 1s}
`, testKey: ""})
	_, err := LoadApp(filepath.Join(dir, "deck.yaml"), mapLookup(nil))
	require.Error(t, err)
	assert.Equal(t, strings.Join([]string{
		`deck.yaml:14:66: environments.ci.hosts[0].adress: unknown key "adress"; did you mean "address"? valid keys: name, url, address, identity, known_hosts, attributes, reserved, capacity`,
		`deck.yaml:16:25: environments.ci.controller.lease: 1s is out of range; want 3s to 10m`,
	}, "\n"), strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), ""), "the typos, and nothing about ${CI_HOSTS} or ${LB_HOST}'s text")

	// With the typos fixed, the environment loads; choosing it reports the variables.
	dir = writeFiles(t, map[string]string{"deck.yaml": testApp + `  ci:
    hosts_file: ${CI_HOSTS}
    load_balancers: [{name: edge, host: "${LB_HOST}", admin: /run/caddy/admin.sock}]
`, testKey: ""})
	app, err := LoadApp(filepath.Join(dir, "deck.yaml"), mapLookup(nil))
	require.NoError(t, err)
	_, err = app.Environment("ci")
	require.Error(t, err)
	msg := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
	assert.Contains(t, msg, "deck.yaml:13:17: environments.ci.hosts_file: variable CI_HOSTS is not set")
	assert.Contains(t, msg, "environments.ci.load_balancers[0].host: variable LB_HOST is not set")
	assert.NotContains(t, msg, "does not exist", "the unexpanded hosts_file is not read")
	_, err = app.Environment("test")
	require.NoError(t, err, "the other environments do not wait for ci's variables")
}
