package cli

import (
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
