package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Revisions are numbered from 1: --to 0 (or less) is refused, not read as "no --to".
func TestRollbackToZeroIsRefused(t *testing.T) {
	h := newHarness(t)
	code, _, errOut := h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)
	for _, to := range []string{"0", "-1"} {
		code, _, errOut = h.run("rollback", "api", "--to", to, "--yes")
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "--to "+to+": want a revision number, 1 or more (deck history api lists them)")
	}
	assert.Equal(t, 3, h.tasks(), "nothing changed")
}

// A rollback reads no secret's source: the revision it returns to has its secrets on the
// hosts already. From a laptop without CI's secrets, it still runs.
func TestRollbackNeedsNoSecretSource(t *testing.T) {
	h := newHarness(t)
	withSecret := strings.Replace(apiManifest, "COUNT", "2", 1) + "secrets:\n  TOKEN: {from_env: TOKEN}\n"
	h.write("deck/api.yaml", withSecret)
	h.env["TOKEN"] = "s3cret-one"
	code, _, errOut := h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)
	h.write("deck/api.yaml", strings.Replace(withSecret, "MODE: fast", "MODE: slow", 1))
	code, _, errOut = h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)

	delete(h.env, "TOKEN")
	code, _, errOut = h.run("deploy", "--yes")
	require.Equal(t, 1, code, "a deploy needs the secret's value")
	assert.Contains(t, errOut, "variable TOKEN is not set")

	code, _, errOut = h.run("rollback", "api", "--yes")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, map[string]int{"fast": 2}, taskModes(h), "revision 1 runs again")
	assert.NotContains(t, errOut, "s3cret-one")
}

// A rollback to a revision whose secret value the hosts no longer keep (only the last
// revisions' are kept) uses the secret's source when it gives that very value, and
// otherwise says what is missing and how to get it back.
func TestRollbackToAPrunedSecretUsesItsSourceWhenItHasTheValue(t *testing.T) {
	h := newHarness(t)
	withSecret := strings.Replace(apiManifest, "COUNT", "2", 1) + "secrets:\n  TOKEN: {from_env: TOKEN}\n"
	h.write("deck/api.yaml", withSecret)
	h.env["TOKEN"] = "s3cret-one"
	code, _, errOut := h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)
	h.write("deck/api.yaml", strings.Replace(strings.Replace(apiManifest, "COUNT", "2", 1), "MODE: fast", "MODE: slow", 1))
	code, _, errOut = h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)
	// The hosts no longer keep revision 1's value, as after many deploys without it.
	ctx := context.Background()
	for _, name := range []string{"h1", "h2"} {
		host := h.cloud.Host(name)
		secrets, err := host.ListSecrets(ctx, "")
		require.NoError(t, err)
		for _, s := range secrets {
			require.NoError(t, host.RemoveSecret(ctx, s))
		}
	}

	// The manifest names the secret's source again (not deployed).
	h.write("deck/api.yaml", strings.Replace(withSecret, "MODE: fast", "MODE: slow", 1))
	h.env["TOKEN"] = "another-value"
	code, _, errOut = h.run("rollback", "api", "--to", "1", "--yes")
	require.Equal(t, 1, code, errOut)
	assert.Contains(t, errOut, "secret TOKEN of service api: this revision's value is no longer kept on host")
	assert.Contains(t, errOut, "set the source to that value and run the rollback again")
	assert.NotContains(t, errOut, "s3cret-one")
	assert.NotContains(t, errOut, "another-value")

	h.env["TOKEN"] = "s3cret-one"
	code, _, errOut = h.run("rollback", "api", "--to", "1", "--yes")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, map[string]int{"fast": 2}, taskModes(h), "revision 1 runs again, with the value its source gives")
}

// taskModes counts the tasks on h1 and h2 by their MODE variable.
func taskModes(h *harness) map[string]int {
	modes := map[string]int{}
	for _, name := range []string{"h1", "h2"} {
		for _, task := range h.cloud.Host(name).Tasks() {
			modes[h.cloud.Host(name).TaskSpec(task.ContainerID).Env["MODE"]]++
		}
	}
	return modes
}
