package cli

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/pipeline"
)

// The controller's last failure of a service is shown while the service is short of
// healthy tasks, not once it is steady again (after a deploy fixed it, the controller has
// nothing to do and records nothing new).
func TestStatusShowsALastFailureOnlyWhileItMatters(t *testing.T) {
	h := newHarness(t)
	code, _, errOut := h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)
	lookup := func(string) (string, bool) { return "", false }
	app, err := manifest.LoadApp(filepath.Join(h.dir, "deck.yaml"), lookup)
	require.NoError(t, err)
	env, err := app.Environment("test")
	require.NoError(t, err)
	s, err := pipeline.Open(context.Background(), pipeline.Target{App: app, Env: env, Dialer: h.cloud})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, pipeline.WriteServiceEvent(context.Background(), s, "api", pipeline.ServiceEvent{Time: time.Now(),
		Message: "(service api) is unable to consistently start tasks successfully.", Reason: "exited with code 3", Failures: 3}))

	code, out, errOut := h.run("status")
	require.Equal(t, 0, code, errOut)
	assert.NotContains(t, out, "Last failure", "3 of 3 tasks healthy: the failure is over")

	host := h.cloud.Host("h1")
	require.NoError(t, host.Remove(context.Background(), host.Tasks()[0].ContainerID))
	code, out, errOut = h.run("status")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "(service api) is unable to consistently start tasks successfully. Last failure: exited with code 3")
}
