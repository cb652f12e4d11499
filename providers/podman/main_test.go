package podman

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/testhosts"
)

// The tests run against two real hosts started by testhosts: h1 over its unix socket, h2
// only over ssh. They are started by the first test that needs them and stopped in TestMain.

const testImage = "localhost/deck-test-httpserver:1"

var (
	envOnce  sync.Once
	env      *testhosts.Env
	h1, h2   *Host
	setupErr error
)

func TestMain(m *testing.M) {
	// The test binary is also the tests' `deck ssh-mux` (see startMux): started with a
	// spec in the environment, it serves it instead of running the tests.
	if js := os.Getenv(MuxEnv); js != "" {
		os.Exit(muxMain(js))
	}
	code := m.Run()
	if h1 != nil {
		_ = h1.Close()
	}
	if h2 != nil {
		_ = h2.Close()
	}
	if env != nil {
		if err := env.Down(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// hosts returns the two connected hosts, with the test image built on h1 and loaded on h2.
func hosts(t testing.TB) (*Host, *Host) {
	t.Helper()
	testhosts.Require(t)
	envOnce.Do(func() { setupErr = setup(t) })
	require.NoError(t, setupErr, "setting up the test hosts")
	return h1, h2
}

func setup(t testing.TB) error {
	start := time.Now()
	var err error
	env, err = testhosts.Up(2, 2)
	if err != nil {
		return err
	}
	t.Logf("timing: 2 hosts up (one over ssh) in %v", time.Since(start))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	specs := env.Specs()
	for i, dst := range []**Host{&h1, &h2} {
		start = time.Now()
		h, err := Dialer{}.Dial(ctx, specs[i])
		if err != nil {
			return err
		}
		t.Logf("timing: dial %s (%s) in %v", specs[i].Name, specs[i].URL, time.Since(start))
		*dst = h.(*Host)
	}
	dir, err := imageContext(t)
	if err != nil {
		return err
	}
	start = time.Now()
	if err := h1.Build(ctx, providers.BuildRequest{Ref: testImage, Context: dir}); err != nil {
		return err
	}
	t.Logf("timing: build of a FROM scratch image on h1 in %v", time.Since(start))
	start = time.Now()
	if err := copyImage(ctx, h1, h2, testImage); err != nil {
		return err
	}
	t.Logf("timing: export h1 -> load h2 (over ssh) in %v", time.Since(start))
	return nil
}

// redialH2 replaces the shared connection to h2 after a test cut h2's link: its tunnel's
// keepalive may close it up to DialTimeout after the link is back.
func redialH2(t *testing.T) {
	t.Helper()
	h, err := Dialer{}.Dial(testCtx(t), env.Specs()[1])
	require.NoError(t, err)
	old := h2
	h2 = h.(*Host)
	_ = old.Close()
}

// redialH1 replaces the shared connection to h1 after a test restarted h1's service: its
// idle connections went with the old service.
func redialH1(t *testing.T) {
	t.Helper()
	h, err := Dialer{}.Dial(testCtx(t), env.Specs()[0])
	require.NoError(t, err)
	old := h1
	h1 = h.(*Host)
	_ = old.Close()
}

// imageContext builds the test image's static programs (testdata/httpserver, a server, and
// testdata/task, a task that does one job and exits) into a fresh build context.
func imageContext(t testing.TB) (string, error) {
	dir, err := os.MkdirTemp("", "deck-podman-test-")
	if err != nil {
		return "", err
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	for _, prog := range []string{"httpserver", "task"} {
		src, err := filepath.Abs(filepath.Join("testdata", prog))
		if err != nil {
			return "", err
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, prog), ".")
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("building testdata/%s: %w\n%s", prog, err, out)
		}
	}
	cf, err := os.ReadFile(filepath.Join("testdata", "Containerfile"))
	if err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, "Containerfile"), cf, 0o644)
}
