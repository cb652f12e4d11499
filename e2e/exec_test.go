package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// execManifest is hello with fast health checks and no route: 3 tasks, one a host.
const execManifest = `name: hello
type: Backend Service
image:
  build: .
  port: 8080
cpu: 64
memory: 32
count: 3
healthcheck:
  path: /healthz
  interval: 500ms
  timeout: 1s
  retries: 6
stop_timeout: 2s
`

// execApp deploys hello with e2e/testdata/exectool copied into its image as /exectool (the
// image is FROM scratch: no shell to run).
func execApp(t *testing.T) *app {
	t.Helper()
	hosts := startHosts(t)
	a := newApp(t, "hello", hosts)
	build := exec.Command("go", "build", "-o", filepath.Join(a.dir, "exectool"), "./e2e/testdata/exectool")
	build.Dir = repoRoot
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))
	cf, err := os.ReadFile(filepath.Join(a.dir, "Containerfile"))
	require.NoError(t, err)
	a.write("Containerfile", string(cf)+"COPY exectool /exectool\n")
	a.write("deck/hello.yaml", execManifest)
	r := a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())
	return a
}

// TestExec runs commands in the tasks of a deployed service, off a terminal: the command's
// stdout and stderr come back apart, deck exits with its exit code, stdin is forwarded to
// its end (also to the task on h3, reached only over ssh, where the end of the input has
// to cross the tunnel as a half-close), and a task that does not exist is an error. Then
// through a pseudo-terminal: the command gets a terminal of its own with the size of
// deck's, typed input reaches it, a resize of deck's terminal reaches it, and deck exits
// with its exit code.
func TestExec(t *testing.T) {
	a := execApp(t)
	st := a.status()
	require.Len(t, st.Services, 1)
	var h3Task string
	for _, task := range st.Services[0].Tasks {
		if task.Host == "h3" {
			h3Task = task.ID
		}
	}
	require.NotEmpty(t, h3Task, "spread puts a task on h3: %+v", st.Services[0].Tasks)

	t.Run("plain", func(t *testing.T) {
		a.t = t
		r := a.deck("exec", "hello", "--", "/exectool", "outerr", "out", "err", "7")
		assert.Equal(t, 7, r.Code, r.String())
		assert.Equal(t, "out\n", r.Stdout)
		assert.Regexp(t, `^Running in task [0-9a-f]+ of service hello on h\d\nerr\n$`, r.Stderr)

		r = a.deck("exec", "hello", "--", "/exectool", "isatty")
		assert.Equal(t, 0, r.Code, r.String())
		assert.Equal(t, "tty=false\n", r.Stdout, "no terminal off a terminal")

		input := strings.Repeat("line of input\n", 2000) // 28 KB: more than one frame
		r = a.deckStdin(input, "exec", "hello", "--task", h3Task, "--", "/exectool", "cat")
		assert.Equal(t, 0, r.Code, r.String())
		assert.Equal(t, input, r.Stdout, "stdin forwarded to its end, through ssh")
		assert.Contains(t, r.Stderr, "Running in task "+h3Task+" of service hello on h3")

		r = a.deck("exec", "hello", "--task", "ffffffff", "--", "/exectool", "isatty")
		assert.Equal(t, 1, r.Code, r.String())
		assert.Contains(t, r.Stderr, "service hello has no running task ffffffff")

		r = a.deck("exec", "hello", "--", "/nonexistent")
		assert.NotEqual(t, 0, r.Code, r.String())
	})

	t.Run("tty", func(t *testing.T) {
		a.t = t
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, deckBin, "exec", "hello", "--", "/exectool", "tty")
		cmd.Dir, cmd.Env = a.dir, a.env
		ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 80, Rows: 24})
		require.NoError(t, err)
		defer ptmx.Close()
		var mu sync.Mutex
		var screen bytes.Buffer
		readDone := make(chan struct{})
		go func() {
			defer close(readDone)
			buf := make([]byte, 4096)
			for {
				n, err := ptmx.Read(buf)
				mu.Lock()
				screen.Write(buf[:n])
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
		seen := func(s string) func() bool {
			return func() bool { mu.Lock(); defer mu.Unlock(); return strings.Contains(screen.String(), s) }
		}
		show := func() string { mu.Lock(); defer mu.Unlock(); return screen.String() }
		require.Eventually(t, seen("ready"), 30*time.Second, 10*time.Millisecond, "%q", show())
		_, err = ptmx.Write([]byte("hello\r"))
		require.NoError(t, err)
		require.Eventually(t, seen(`got "hello\n" tty=true size=80x24`), 10*time.Second, 10*time.Millisecond, "%q", show())
		require.NoError(t, pty.Setsize(ptmx, &pty.Winsize{Cols: 100, Rows: 30}))
		err = cmd.Wait()
		<-readDone
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "%q", show())
		assert.Equal(t, 3, ee.ExitCode(), "%q", show())
		out := show()
		assert.Contains(t, out, "resized to 100x30")
		// Raw mode: only the command's terminal echoes the typed line; a local terminal
		// in cooked mode would echo it too.
		assert.Equal(t, 1, strings.Count(out, "hello\r\n"), "%q", out)
	})
}

// deckStdin runs deck with input on its stdin.
func (a *app) deckStdin(input string, args ...string) result {
	a.t.Helper()
	return a.deckRun(context.Background(), strings.NewReader(input), args...)
}
