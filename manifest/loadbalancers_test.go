package manifest

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lbApp is a deck.yaml whose test environment has h1 (unix, address 10.77.0.11) and h2
// (ssh), and the hosts of hosts.yaml when HOSTS_FILE names it; lbs is put under test.
func lbApp(lbs string) string {
	return `app: hello
environments:
  test:
    hosts_file: ${HOSTS_FILE:-}
    hosts:
      - {name: h1, url: 'unix:///run/h1/podman.sock', address: 10.77.0.11}
      - {name: h2, url: 'ssh://deck@10.77.0.12/run/podman/podman.sock', identity: /dev/null}
    load_balancers:
` + lbs + `
  other:
    hosts: [{name: o1, url: 'unix:///run/o1/podman.sock'}]
`
}

func TestLoadBalancers(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"deck.yaml": lbApp(`      - {name: edge, host: h1, admin: /run/caddy//admin.sock}
      - name: edge-2
        host: h2
        provider: caddy
        listen: ${LISTEN:-10.77.0.12:8080}
        admin: ${ADMIN}
      - {name: edge-3, host: f1, admin: /run/f1/admin.sock, listen: '[fd00::1]:80'}
      - {name: edge-4, host: h1, admin: /run/caddy/other.sock, listen: 10.77.0.11:8080}`),
		"hosts.yaml": "- {name: f1, url: 'unix:///run/f1/podman.sock'}\n",
	})
	app, err := LoadApp(filepath.Join(dir, "deck.yaml"), mapLookup(map[string]string{"ADMIN": "/run/h2/caddy.sock", "HOSTS_FILE": "hosts.yaml"}))
	require.NoError(t, err)
	env, err := app.Environment("test")
	require.NoError(t, err)
	assert.Equal(t, []LoadBalancerSpec{
		{Name: "edge", Host: "h1", Provider: LBCaddy, Listen: "10.77.0.11:80", Admin: "/run/caddy/admin.sock"},
		{Name: "edge-2", Host: "h2", Provider: LBCaddy, Listen: "10.77.0.12:8080", Admin: "/run/h2/caddy.sock"},
		{Name: "edge-3", Host: "f1", Provider: LBCaddy, Listen: "[fd00::1]:80", Admin: "/run/f1/admin.sock"},
		{Name: "edge-4", Host: "h1", Provider: LBCaddy, Listen: "10.77.0.11:8080", Admin: "/run/caddy/other.sock"},
	}, env.LoadBalancers)
	other, err := app.Environment("other")
	require.NoError(t, err)
	assert.Empty(t, other.LoadBalancers, "an environment without load_balancers has none")
}

func TestLoadBalancerErrors(t *testing.T) {
	const admin = "admin: /run/caddy/admin.sock"
	tests := []struct{ lbs, want string }{
		{"      - {host: h1, " + admin + "}", `load_balancers[0].name: the load balancer has no name; want name: <name>, such as name: edge`},
		{"      - {name: Edge, host: h1, " + admin + "}", `load_balancers[0].name: "Edge" is not a valid load balancer name`},
		{"      - {name: edge, " + admin + "}", `load_balancers[0].host: the load balancer has no host`},
		{"      - {name: edge, host: h3, " + admin + "}", `deck.yaml:9:28: environments.test.load_balancers[0].host: host "h3" is not one of environment test's hosts; did you mean "h1"? valid: h1, h2`},
		{"      - {name: edge, host: h1}", `load_balancers[0].admin: the load balancer has no admin; want admin: <absolute path of its admin API's unix socket on the host>`},
		{"      - {name: edge, host: h1, admin: run/admin.sock}", `load_balancers[0].admin: "run/admin.sock" is not an absolute path; want the absolute path of the admin API's unix socket on the host`},
		{"      - {name: edge, host: h1, admin: 'unix:///run/admin.sock'}", `is not an absolute path; did you mean "/run/admin.sock"?`},
		{"      - {name: edge, host: h1, provider: haproxy, " + admin + "}", `load_balancers[0].provider: provider haproxy is not supported yet: deck drives caddy only for now; want provider: caddy, or leave provider out`},
		{"      - {name: edge, host: h1, provider: cady, " + admin + "}", `"cady" is not a load balancer provider; did you mean "caddy"? want caddy`},
		{"      - {name: edge, host: h1, listen: 10.77.0.11, " + admin + "}", `load_balancers[0].listen: "10.77.0.11" is not address:port; want an address and a port such as 10.0.0.5:80`},
		{"      - {name: edge, host: h1, listen: ':80', " + admin + "}", `":80" has no valid address before the port`},
		{"      - {name: edge, host: h1, listen: 'http://x:80', " + admin + "}", `"http://x:80" is not address:port`},
		{"      - {name: edge, host: h1, listen: '10.0.0.1:0', " + admin + "}", `"10.0.0.1:0" has port "0"; want a port from 1 to 65535`},
		{"      - {name: edge, host: h1, listen: '10.0.0.1:http', " + admin + "}", `has port "http"; want a port from 1 to 65535`},
		{"      - {name: edge, host: h1, admn: /x, " + admin + "}", `load_balancers[0].admn: unknown key "admn"; did you mean "admin"? valid keys: name, host, provider, listen, admin`},
		{"      edge", `environments.test.load_balancers: found "edge"; want a list of load balancers such as - {name: edge, host: h1, admin: /run/caddy/admin.sock}`},
		{"      - {name: edge, host: h1, " + admin + "}\n      - {name: edge, host: h2, " + admin + "}",
			`deck.yaml:10:16: environments.test.load_balancers[1].name: load balancer name "edge" is used twice in environment test (first at deck.yaml:9); load balancer names must be unique`},
		{"      - {name: a, host: h1, admin: /a.sock}\n      - {name: b, host: h1, admin: /b.sock, listen: '10.77.0.11:80'}",
			`load_balancers[1].listen: listen 10.77.0.11:80 on host h1 clashes with load balancer a's 10.77.0.11:80 (deck.yaml:9); give each load balancer on a host its own port or address`},
		{"      - {name: a, host: h1, admin: /a.sock, listen: '0.0.0.0:443'}\n      - {name: b, host: h1, admin: /b.sock, listen: '10.77.0.11:443'}",
			`listen 10.77.0.11:443 on host h1 clashes with load balancer a's 0.0.0.0:443`},
	}
	for _, tt := range tests {
		t.Run(tt.lbs, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"deck.yaml": lbApp(tt.lbs)})
			_, err := LoadApp(filepath.Join(dir, "deck.yaml"), mapLookup(nil))
			require.Error(t, err)
			got := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
			assert.Contains(t, got, tt.want)
			assert.Equal(t, 1, strings.Count(got, "\n")+1, "one problem, one error:\n%v", got)
		})
	}
	t.Run("the same port on two hosts, or two ports on one, is fine", func(t *testing.T) {
		dir := writeFiles(t, map[string]string{"deck.yaml": lbApp(
			"      - {name: a, host: h1, admin: /a.sock, listen: '0.0.0.0:80'}\n      - {name: b, host: h2, admin: /b.sock, listen: '0.0.0.0:80'}\n      - {name: c, host: h1, admin: /c.sock, listen: '10.77.0.11:81'}")})
		_, err := LoadApp(filepath.Join(dir, "deck.yaml"), mapLookup(nil))
		require.NoError(t, err)
	})
}

func TestLoadBalancerHostFromAHostsFileIsDeferred(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"deck.yaml":  lbApp("      - {name: edge, host: f9, admin: /run/admin.sock}"),
		"hosts.yaml": "- {name: f1, url: 'unix:///run/f1/podman.sock'}\n",
	})
	app, err := LoadApp(filepath.Join(dir, "deck.yaml"), mapLookup(map[string]string{"HOSTS_FILE": "hosts.yaml"}))
	require.NoError(t, err, "which hosts the file holds depends on this machine's copy of it")
	_, err = app.Environment("other")
	require.NoError(t, err, "other environments do not need test's hosts file")
	_, err = app.Environment("test")
	require.EqualError(t, err, filepath.Join(dir, "deck.yaml")+`:9:28: environments.test.load_balancers[0].host: host "f9" is not one of environment test's hosts; did you mean "f1"? valid: h1, h2, f1`)
}
