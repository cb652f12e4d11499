package executor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/deckhq/deck/manifest"
)

// A health check that never passed says what usually causes it.
func TestHealthHintNamesTheUsualCauses(t *testing.T) {
	hc := &manifest.Healthcheck{Command: []string{"CMD", "/app", "-check"}, Interval: time.Second}
	td := manifest.TaskDef{Port: 9090, Healthcheck: hc}
	assert.Equal(t, " (nothing answered on the task's port 9090: does the app listen on it, on all addresses? image.port names it)",
		healthHint(td, "GET http://10.0.0.1:41234/health: dial tcp 10.0.0.1:41234: connect: connection refused"))
	assert.Equal(t, " (if the app takes longer to start, give it healthcheck.start_period)", healthHint(td, "exit code 1"))
	hc.StartPeriod = time.Minute
	assert.Empty(t, healthHint(td, "exit code 1"), "a start period was given: nothing to suggest")
}
