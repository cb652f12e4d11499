package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/cmd/internal/iostreams"
	"github.com/deckhq/deck/providers"
)

// runIn runs deck with input on its stdin (not a terminal).
func (h *harness) runIn(input string, args ...string) (code int, stdout, stderr string) {
	h.t.Helper()
	ios, in, out, errOut := iostreams.Test()
	in.WriteString(input)
	deps := Deps{IO: ios, Dialer: h.cloud, LookupEnv: func(k string) (string, bool) { v, ok := h.env[k]; return v, ok }}
	args = append([]string{"--file", filepath.Join(h.dir, "deck.yaml"), "--config", filepath.Join(h.dir, "config.yaml")}, args...)
	code = Main(context.Background(), args, deps)
	return code, out.String(), errOut.String()
}

// TestExecPicksAHealthyTaskAndReturnsTheExitCode: without --task, deck exec runs the
// command in the first healthy task (h1's are unhealthy here, so one of h2's), says which on
// stderr, forwards stdin, keeps stdout and stderr apart off a terminal, and exits with the
// command's code; --task picks the task named, by a prefix of its id; a task that does not
// exist, and a service with no healthy task, are errors that list the running tasks.
func TestExecPicksAHealthyTaskAndReturnsTheExitCode(t *testing.T) {
	h := newHarness(t)
	code, _, errOut := h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)
	h1, h2 := h.cloud.Host("h1"), h.cloud.Host("h2")
	h1.Healthy = func(providers.TaskSpec) bool { return false }
	ran := map[string]string{} // task id -> host it ran on
	for _, fh := range []string{"h1", "h2"} {
		host := h.cloud.Host(fh)
		host.Command = func(spec providers.TaskSpec, req providers.ExecRequest) int {
			ran[spec.Labels[providers.LabelTask]] = host.Name()
			in, _ := io.ReadAll(req.Stdin)
			fmt.Fprintf(req.Stdout, "%s %s", strings.Join(req.Command, " "), strings.ToUpper(string(in)))
			fmt.Fprintln(req.Stderr, "to stderr")
			return 5
		}
	}
	code, out, errOut := h.runIn("hi\n", "exec", "api", "--", "tr", "a-z", "A-Z")
	assert.Equal(t, 5, code, errOut)
	assert.Equal(t, "tr a-z A-Z HI\n", out)
	assert.Regexp(t, `^Running in task [0-9a-f]+ of service api on h2\nto stderr\n$`, errOut)
	require.Len(t, ran, 1)
	for _, host := range ran {
		assert.Equal(t, "h2", host, "the first healthy task")
	}

	var h1Task string
	for _, task := range h1.Tasks() {
		h1Task = task.TaskID
	}
	require.NotEmpty(t, h1Task)
	code, _, errOut = h.run("exec", "api", "--task", h1Task[:6], "--", "true")
	assert.Equal(t, 5, code, errOut)
	assert.Contains(t, errOut, "Running in task "+h1Task+" of service api on h1", "the one named, healthy or not")

	code, _, errOut = h.run("exec", "api", "--task", "zzzz", "--", "true")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "service api has no running task zzzz (running: ")

	code, _, errOut = h.run("exec", "apy", "--", "true")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `no service apy has tasks in app `)
	assert.Contains(t, errOut, `; did you mean "api"? (services with tasks: api)`)

	h2.Healthy = h1.Healthy
	code, _, errOut = h.run("exec", "api", "--", "true")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "service api has no healthy task; name one with --task (running: ")

	code, _, errOut = h.run("exec", "api", "true")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "want SERVICE -- COMMAND")
}

// TestExecWithoutACommandHandlerIsNotFound: a fake container has no programs.
func TestExecWithoutACommandHandlerIsNotFound(t *testing.T) {
	h := newHarness(t)
	code, _, errOut := h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)
	code, _, errOut = h.run("exec", "api", "--", "/nope")
	assert.Equal(t, 127, code, errOut)
	assert.Contains(t, errOut, "/nope: executable file not found")
}
