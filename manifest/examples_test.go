package manifest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestExamplesValidate checks the examples as deck validate would, against a hosts file
// shaped like the one testhosts/hosts.sh writes.
func TestExamplesValidate(t *testing.T) {
	hosts := filepath.Join(t.TempDir(), "hosts.yaml")
	require.NoError(t, os.WriteFile(hosts, []byte(`- {name: h1, url: 'unix:///run/deck-testhosts/h1/podman.sock', address: 10.77.0.11, attributes: {zone: a}}
- {name: h2, url: 'unix:///run/deck-testhosts/h2/podman.sock', address: 10.77.0.12, attributes: {zone: b}}
`), 0o644))
	lookup := mapLookup(map[string]string{"DECK_HOSTS_FILE": hosts, "HOME": t.TempDir()})
	for _, name := range []string{"hello", "worker"} {
		t.Run(name, func(t *testing.T) {
			r := Validate(filepath.Join("..", "examples", name, "deck.yaml"), "", lookup)
			require.NoError(t, r.Err())
			require.Len(t, r.Envs, 1)
		})
	}

	r := Validate(filepath.Join("..", "examples", "hello", "deck.yaml"), "test", lookup)
	require.NoError(t, r.Err())
	env := r.Envs[0]
	assert.Equal(t, []LoadBalancerSpec{{Name: "edge", Host: "h1", Provider: LBCaddy, Listen: "10.77.0.11:80",
		Admin: "/run/deck-testhosts/h1/caddy/admin.sock"}}, env.Environment.LoadBalancers)
	require.Len(t, env.Services, 1)
	assert.Equal(t, &HTTP{Path: "/", DeregistrationDelay: 5 * time.Second, Healthcheck: TargetHealthcheck{
		Path: "/healthz", SuccessCodes: "200-399", HealthyThreshold: 2, UnhealthyThreshold: 2,
		Interval: 5 * time.Second, Timeout: 2 * time.Second, GracePeriod: 30 * time.Second}}, env.Services[0].HTTP)
}
