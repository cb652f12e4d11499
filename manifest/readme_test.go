package manifest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestREADMEManifestsLoad keeps the README's reference honest: its app file and its full
// service manifest must load without an error.
func TestREADMEManifestsLoad(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	require.GreaterOrEqual(t, len(blocks), 2, "the README shows deck.yaml and a service manifest")
	dir := t.TempDir()
	write := func(rel, body string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, rel), []byte(body), 0o644))
	}
	write("deck.yaml", blocks[0][1])
	write("deck/api.yaml", blocks[1][1])
	write("hosts.yaml", "- name: extra\n  url: unix:///run/extra.sock\n  attributes: {zone: b}\n")
	write("api/Containerfile", "FROM scratch\n")
	write(".ssh/deck", "")
	write("secrets/tls.key", "key")
	env := map[string]string{"HOSTS_FILE": "hosts.yaml", "HOME": dir, "DB_PASSWORD": "pw"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }

	app, e, services, err := Load(filepath.Join(dir, "deck.yaml"), "prod", lookup)
	require.NoError(t, err)
	assert.Equal(t, "shop", app.Name)
	assert.Len(t, e.Hosts, 3)
	require.Len(t, services, 1)
	s := services[0]
	assert.Equal(t, 3, s.Count.Value, "the prod override applies")
	assert.Equal(t, "warn", s.Task.Variables["LOG_LEVEL"])
	assert.True(t, strings.HasSuffix(s.Image.Build.Context, "api"))
	assert.Equal(t, []LoadBalancerSpec{{Name: "edge", Host: "web-1", Provider: LBCaddy, Listen: "10.0.0.5:80", Admin: "/run/caddy/admin.sock"}}, e.LoadBalancers)
	require.NotNil(t, s.HTTP)
	assert.Equal(t, "/api", s.HTTP.Path)
	assert.Equal(t, []string{"api.example.com"}, s.HTTP.Aliases)
	assert.Equal(t, "/healthz", s.HTTP.Healthcheck.Path)
	assert.Equal(t, CircuitBreaker{Threshold: 5, Rollback: true}, s.Deployment.CircuitBreaker)
	assert.Equal(t, &Logging{MaxSize: 10_000_000}, s.Task.Logging)
}
