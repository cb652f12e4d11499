package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/deckhq/deck/cmd/internal/iostreams"
	"github.com/deckhq/deck/executor"
)

func TestProgressOnATerminalRedrawsOneLinePerTask(t *testing.T) {
	ios, _, _, errOut := iostreams.Test()
	ios.SetTTY(true)
	p := newProgress(Deps{IO: ios})
	at := time.Date(2026, 11, 21, 7, 0, 0, 0, time.UTC)
	p.Event(executor.Event{Time: at, Kind: executor.EventTaskCreating, Service: "web", Host: "h1", TaskID: "a"})
	p.Event(executor.Event{Time: at, Kind: executor.EventTaskCreating, Service: "web", Host: "h2", TaskID: "b"})
	p.Event(executor.Event{Time: at, Kind: executor.EventTaskHealthy, Service: "web", Host: "h1", TaskID: "a", Message: "10.0.0.1:4000"})
	out := errOut.String()
	// The third event moves up over the two task lines and draws them again, updated.
	assert.Equal(t, 1, strings.Count(out, "\x1b[2A"))
	last := out[strings.LastIndex(out, "\x1b[2A"):]
	assert.Contains(t, last, "\x1b[32mtask-healthy\x1b[0m  web  h1  a  10.0.0.1:4000", "healthy in green")
	assert.Contains(t, last, "\x1b[33mtask-creating\x1b[0m  web  h2  b", "in progress in yellow")
	assert.NotContains(t, out, "2026-11-21T07:00:00Z", "no timestamps on a terminal")
}

func TestProgressHonoursNoColor(t *testing.T) {
	ios, _, _, errOut := iostreams.Test()
	ios.SetTTY(true)
	ios.DisableColor()
	p := newProgress(Deps{IO: ios})
	p.Event(executor.Event{Kind: executor.EventTaskHealthy, Service: "web", Host: "h1", TaskID: "a"})
	assert.Equal(t, "\x1b[2K  task-healthy  web  h1  a\n", errOut.String())
}

func TestProgressOffATerminalPrintsTimestampedLines(t *testing.T) {
	ios, _, _, errOut := iostreams.Test()
	p := newProgress(Deps{IO: ios})
	at := time.Date(2026, 11, 21, 7, 0, 0, 0, time.UTC)
	p.Event(executor.Event{Time: at, Kind: executor.EventTaskStopping, Service: "web", Host: "h1", TaskID: "a", Message: "count 3 -> 2"})
	assert.Equal(t, "2026-11-21T07:00:00Z  task-stopping service=web host=h1 task=a count 3 -> 2\n", errOut.String())
	assert.NotContains(t, errOut.String(), "\x1b[")
}

func TestHostsCommand(t *testing.T) {
	h := newHarness(t)
	h.cloud.Host("h2").SetDown(true)
	code, out, errOut := h.run("hosts")
	assert.Equal(t, 0, code, errOut)
	assert.Regexp(t, `h1\s+yes\s+fake\s+0/2048\s+0/4096\s+0\s+zone=a`, out)
	assert.Regexp(t, `h2\s+no\s+-`, out)
	assert.Contains(t, out, "unreachable h2:")
}
