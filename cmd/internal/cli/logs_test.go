package cli

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/cmd/internal/iostreams"
	"github.com/deckhq/deck/pipeline"
)

func TestLogsFlagsBecomeTheRequest(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	o := &LogsOptions{Service: "web", Since: "10m", Tail: 5, Follow: true, now: func() time.Time { return now }}
	req, err := o.request()
	require.NoError(t, err)
	assert.Equal(t, pipeline.LogsRequest{Service: "web", Since: now.Add(-10 * time.Minute), Tail: 5, Follow: true}, req)

	o = &LogsOptions{Task: "3f2a", Since: "2024-05-01T11:00:00Z", Tail: -1, now: time.Now}
	req, err = o.request()
	require.NoError(t, err)
	assert.Equal(t, time.Date(2024, 5, 1, 11, 0, 0, 0, time.UTC), req.Since)

	for flags, msg := range map[*LogsOptions]string{
		{Tail: -1}:                           "name a SERVICE, or a task with --task, or a job run with --run",
		{Task: "a", Run: "b", Tail: -1}:      "--task and --run: name one, not both",
		{Service: "web", Tail: -2}:           "--tail -2: want a number of lines, or -1 for all",
		{Service: "web", Since: "yesterday"}: `--since "yesterday": want a duration back from now (10m, 1h30m) or an RFC 3339 time (2024-05-01T12:00:00Z)`,
	} {
		flags.now = time.Now
		_, err := flags.request()
		assert.EqualError(t, err, msg)
	}
}

func TestLogsPrintsEachLineAfterItsTaskAndHost(t *testing.T) {
	line := pipeline.TaskLine{Time: time.Date(2024, 5, 1, 12, 0, 1, 0, time.UTC), Task: "3f2a9c01", Host: "h2",
		Service: "web", Revision: "r1", Stream: "stderr", Line: "hello"}
	stop := pipeline.TaskLine{Time: line.Time, Task: "3f2a9c01", Host: "h2", Service: "web", Revision: "r1",
		Event: "stopped", Line: "the container exited with code 137"}

	io, _, out, _ := iostreams.Test()
	p := logPrinter(Deps{IO: io}, false)
	p(line)
	p(stop)
	assert.Equal(t, "3f2a9c01 h2 | hello\n3f2a9c01 h2 | -- stopped: the container exited with code 137\n", out.String(), "no colour off a terminal")

	io, _, out, _ = iostreams.Test()
	io.SetTTY(true)
	p = logPrinter(Deps{IO: io}, false)
	p(line)
	p(pipeline.TaskLine{Task: "77aa0000", Host: "h1", Line: "x"})
	assert.Equal(t, "\x1b[36m3f2a9c01 h2 |\x1b[0m hello\n\x1b[33m77aa0000 h1 |\x1b[0m x\n", out.String(), "a colour per task on a terminal")

	io, _, out, _ = iostreams.Test()
	p = logPrinter(Deps{IO: io}, true)
	p(line)
	p(stop)
	assert.Equal(t, `{"time":"2024-05-01T12:00:01Z","task":"3f2a9c01","host":"h2","service":"web","revision":"r1","stream":"stderr","line":"hello"}
{"time":"2024-05-01T12:00:01Z","task":"3f2a9c01","host":"h2","service":"web","revision":"r1","event":"stopped","reason":"the container exited with code 137"}
`, out.String())
}
