package manifest

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestControllerSettings(t *testing.T) {
	dir := writeFiles(t, map[string]string{"deck.yaml": `app: hello
environments:
  test:
    hosts: [{name: h1, url: unix:///run/h1/podman.sock}]
  prod:
    hosts: [{name: p1, url: unix:///run/p1/podman.sock}]
    controller:
      leader: etcd
      etcd:
        endpoints: [http://10.77.0.1:2379, "${ETCD_2:-http://10.77.0.2:2379}"]
      lease: 20s
      host_grace: 1m
      resync: 45
  partial:
    hosts: [{name: q1, url: unix:///run/q1/podman.sock}]
    controller: {lease: 5s}
`})
	app, err := LoadApp(filepath.Join(dir, "deck.yaml"), mapLookup(nil))
	require.NoError(t, err)

	test, err := app.Environment("test")
	require.NoError(t, err)
	assert.Equal(t, ControllerSpec{Leader: LeaderHosts, Lease: 15 * time.Second, HostGrace: 15 * time.Second, Resync: 30 * time.Second},
		test.Controller, "the defaults, with no controller key")

	prod, err := app.Environment("prod")
	require.NoError(t, err)
	assert.Equal(t, ControllerSpec{Leader: LeaderEtcd, Etcd: EtcdSpec{Endpoints: []string{"http://10.77.0.1:2379", "http://10.77.0.2:2379"}},
		Lease: 20 * time.Second, HostGrace: time.Minute, Resync: 45 * time.Second}, prod.Controller)

	partial, err := app.Environment("partial")
	require.NoError(t, err)
	want := DefaultController()
	want.Lease = 5 * time.Second
	assert.Equal(t, want, partial.Controller, "keys left out keep their defaults")
}

func TestImplicitEnvironmentHasControllerDefaults(t *testing.T) {
	dir := writeFiles(t, map[string]string{"deck.yaml": "app: hello\n"})
	app, err := LoadApp(filepath.Join(dir, "deck.yaml"), mapLookup(nil))
	require.NoError(t, err)
	env, err := app.Environment("")
	require.NoError(t, err)
	assert.Equal(t, DefaultController(), env.Controller)
}

// TestREADMEControllerSettingsLoad keeps the README's controller example honest.
func TestREADMEControllerSettingsLoad(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	m := regexp.MustCompile("(?s)### Controller settings\n.*?```yaml\n(.*?)```").FindSubmatch(readme)
	require.NotNil(t, m, "the README has a Controller settings section with a deck.yaml")
	dir := writeFiles(t, map[string]string{"deck.yaml": string(m[1]), "hosts.yaml": "- {name: h1, url: 'unix:///run/h1.sock'}\n"})
	app, err := LoadApp(filepath.Join(dir, "deck.yaml"), mapLookup(nil))
	require.NoError(t, err)
	env, err := app.Environment("prod")
	require.NoError(t, err)
	assert.Equal(t, ControllerSpec{Leader: LeaderEtcd, Etcd: EtcdSpec{Endpoints: []string{"http://10.0.0.1:2379", "http://10.0.0.2:2379"}},
		Lease: 15 * time.Second, HostGrace: 15 * time.Second, Resync: 30 * time.Second}, env.Controller)
}
