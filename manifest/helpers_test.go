package manifest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// testApp is a deck.yaml with two environments, test and prod. prod's ssh key, keys/deck,
// must exist beside it (testKey).
const testApp = `app: hello
environments:
  test:
    hosts:
      - name: h1
        url: unix:///run/podman/podman.sock
  prod:
    hosts:
      - name: p1
        url: ssh://deck@10.0.0.1/run/podman/podman.sock
        identity: keys/deck
`

// testKey is prod's ssh key in testApp.
const testKey = "keys/deck"

// writeFiles writes files (path relative to a new temp dir -> content) and returns the dir.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return dir
}

// zonedApp is testApp whose test host h1 has the attributes the placement tests constrain.
const zonedApp = `app: hello
environments:
  test:
    hosts:
      - name: h1
        url: unix:///run/podman/podman.sock
        attributes: {zone: a, disk: ssd}
  prod:
    hosts:
      - name: p1
        url: unix:///run/p1/podman.sock
`

// loadService1 loads one service manifest next to testApp for env, with a build context
// ./web.
func loadService1(t *testing.T, svc, env string, lookup map[string]string) (ServiceSpec, string, error) {
	t.Helper()
	return loadServiceIn(t, testApp, svc, env, lookup)
}

// loadServiceIn is loadService1 next to the app file app.
func loadServiceIn(t *testing.T, app, svc, env string, lookup map[string]string) (ServiceSpec, string, error) {
	t.Helper()
	dir := writeFiles(t, map[string]string{"deck.yaml": app, "deck/svc.yaml": svc, testKey: "", "web/Containerfile": "FROM scratch\n"})
	_, _, specs, err := Load(filepath.Join(dir, "deck.yaml"), env, mapLookup(lookup))
	if err != nil {
		return ServiceSpec{}, dir, err
	}
	require.Len(t, specs, 1)
	return specs[0], dir, nil
}
