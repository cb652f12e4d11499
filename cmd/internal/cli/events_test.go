package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEventsShowsTheDeployInOrder: after a deploy, deck events prints its sentences oldest
// first; -o json one object a line; --service filters; --since after the deploy shows
// nothing; a bad --since is a flag error.
func TestEventsShowsTheDeployInOrder(t *testing.T) {
	h := newHarness(t)
	code, _, errOut := h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)

	code, out, errOut := h.run("events")
	require.Equal(t, 0, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 10, out) // lock, started, 3 x (started, healthy), steady, completed
	assert.Contains(t, lines[0], "The deploy lock was taken by a deploy")
	assert.Contains(t, lines[1], "(service api) deployment of revision 1 started.")
	assert.Contains(t, lines[9], "(service api) deployment of revision 1 completed.")

	code, out, _ = h.run("events", "-o", "json", "--service", "api")
	require.Equal(t, 0, code)
	var last time.Time
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e struct {
			Time    time.Time `json:"time"`
			Kind    string    `json:"kind"`
			Service string    `json:"service"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &e), line)
		assert.Equal(t, "api", e.Service)
		assert.False(t, e.Time.Before(last), "oldest first")
		last = e.Time
		n++
	}
	assert.Equal(t, 9, n, "the lock's event names no service")

	code, out, _ = h.run("events", "--since", last.Format(time.RFC3339Nano))
	assert.Equal(t, 0, code)
	assert.Empty(t, out)

	code, _, errOut = h.run("events", "--since", "yesterday")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "--since \"yesterday\"")
}
