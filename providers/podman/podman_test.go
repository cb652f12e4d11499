package podman

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func unique(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// taskSpec is a deck-labelled spec for the test server.
func taskSpec(name, app string) providers.TaskSpec {
	return providers.TaskSpec{
		Name:  name,
		Image: testImage,
		Labels: map[string]string{
			providers.LabelManaged: "true", providers.LabelApp: app, providers.LabelEnv: "test",
			providers.LabelService: "web", providers.LabelRevision: "r1", providers.LabelTask: name,
		},
		Port:        8080,
		StopTimeout: time.Second,
	}
}

// run creates and starts a task, and removes it when the test ends.
func run(t *testing.T, h *Host, spec providers.TaskSpec) providers.Task {
	t.Helper()
	task, err := h.Create(testCtx(t), spec)
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Remove(context.Background(), task.ContainerID) })
	task, err = h.Start(testCtx(t), task.ContainerID)
	require.NoError(t, err)
	return task
}

// get fetches url, retrying briefly while the server in the container starts.
func get(t *testing.T, url string) string {
	t.Helper()
	c := http.Client{Timeout: 2 * time.Second}
	var lastErr error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := c.Get(url)
		if err != nil {
			lastErr = err
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		return string(body)
	}
	t.Fatalf("GET %s: %v", url, lastErr)
	return ""
}

func TestInfo(t *testing.T) {
	a, b := hosts(t)
	for _, h := range []*Host{a, b} {
		info, err := h.Info(testCtx(t))
		require.NoError(t, err)
		assert.NotEmpty(t, info.Version)
		assert.GreaterOrEqual(t, info.Capacity.CPU, int64(1024))
		assert.Greater(t, info.Capacity.Memory, int64(0))
	}
}

func TestTaskLifecycle(t *testing.T) {
	h, _ := hosts(t)
	ctx := testCtx(t)
	app := unique("app")
	secret := unique("deck-test-token")
	require.NoError(t, h.EnsureSecret(ctx, secret, []byte("s3cret-value")))
	t.Cleanup(func() { _ = h.RemoveSecret(context.Background(), secret) })

	spec := taskSpec(unique("web"), app)
	spec.Env = map[string]string{"SHOW": "GREETING,TOKEN", "GREETING": "hello"}
	spec.Secrets = []providers.TaskSecret{{Secret: secret, Env: "TOKEN"}}
	spec.MemoryMiB = 64
	spec.CPUShares = 512
	start := time.Now()
	task, err := h.Create(ctx, spec)
	require.NoError(t, err)
	t.Logf("timing: create in %v", time.Since(start))
	t.Cleanup(func() { _ = h.Remove(context.Background(), task.ContainerID) })
	assert.Equal(t, "created", task.State, "Create does not start it")
	assert.Empty(t, task.Ports, "ports are bound at start")
	created, err := h.Inspect(ctx, task.ContainerID)
	require.NoError(t, err)
	assert.Equal(t, "created", created.State)

	start = time.Now()
	task, err = h.Start(ctx, task.ContainerID)
	require.NoError(t, err)
	t.Logf("timing: start+inspect in %v", time.Since(start))
	assert.Equal(t, spec.Name, task.Name)
	assert.Equal(t, "running", task.State)
	assert.Equal(t, app, task.App)
	assert.Equal(t, "test", task.Env)
	assert.Equal(t, "web", task.Service)
	assert.Equal(t, "r1", task.Revision)
	assert.Equal(t, spec.Name, task.TaskID)
	port := task.HostPort(8080)
	require.NotZero(t, port, "ports: %+v", task.Ports)
	assert.WithinDuration(t, time.Now(), task.StartedAt, time.Minute)

	// The published port answers from the root namespace at the host's address, with the
	// variable and the secret injected.
	body := get(t, fmt.Sprintf("http://%s:%d/", env.Hosts[0].Address, port))
	assert.Equal(t, "GREETING=hello\nTOKEN=s3cret-value\n", body)

	data, err := containers.Inspect(h.call(ctx), task.ContainerID, nil)
	require.NoError(t, err)
	assert.Equal(t, int64(64*1024*1024), data.HostConfig.Memory)
	assert.Equal(t, uint64(512), data.HostConfig.CpuShares)
	assert.Equal(t, uint(1), data.Config.StopTimeout)

	list, err := h.List(ctx, app, "test")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, task.ContainerID, list[0].ContainerID)
	assert.Equal(t, spec.Name, list[0].Name)
	assert.Equal(t, "running", list[0].State)
	assert.Equal(t, port, list[0].HostPort(8080))
	assert.Equal(t, "0.0.0.0", list[0].Ports[0].HostIP)
	for k, v := range spec.Labels {
		assert.Equal(t, v, list[0].Labels[k], "label %s", k)
	}
	assert.WithinDuration(t, task.StartedAt, list[0].StartedAt, time.Second)

	other, err := h.List(ctx, app, "prod")
	require.NoError(t, err)
	assert.Empty(t, other)
	all, err := h.List(ctx, "", "")
	require.NoError(t, err)
	assert.True(t, containsID(all, task.ContainerID))

	require.NoError(t, h.Stop(ctx, task.ContainerID, 5*time.Second))
	list, err = h.List(ctx, app, "")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "exited", list[0].State)
	require.NoError(t, h.Stop(ctx, task.ContainerID, time.Second), "stopping a stopped task")

	require.NoError(t, h.Remove(ctx, task.ContainerID))
	list, err = h.List(ctx, app, "")
	require.NoError(t, err)
	assert.Empty(t, list)
	assert.ErrorIs(t, h.Remove(ctx, task.ContainerID), providers.ErrNotFound)
	assert.ErrorIs(t, h.Stop(ctx, task.ContainerID, time.Second), providers.ErrNotFound)
	_, err = h.HealthCheck(ctx, task.ContainerID)
	assert.ErrorIs(t, err, providers.ErrNotFound)
}

func containsID(tasks []providers.Task, id string) bool {
	for _, t := range tasks {
		if t.ContainerID == id {
			return true
		}
	}
	return false
}

func TestStopTimeout(t *testing.T) {
	h, _ := hosts(t)
	ctx := testCtx(t)
	// This one ignores SIGTERM, so Stop must wait the timeout and then kill it.
	stubborn := taskSpec(unique("stubborn"), unique("app"))
	stubborn.Command = []string{"-ignore-term"}
	task := run(t, h, stubborn)
	get(t, fmt.Sprintf("http://%s:%d/", env.Hosts[0].Address, task.HostPort(8080)))
	start := time.Now()
	require.NoError(t, h.Stop(ctx, task.ContainerID, 1500*time.Millisecond))
	took := time.Since(start)
	assert.GreaterOrEqual(t, took, 2*time.Second, "1.5 s rounds up to 2 s of grace")
	assert.Less(t, took, 10*time.Second)

	polite := run(t, h, taskSpec(unique("polite"), unique("app")))
	get(t, fmt.Sprintf("http://%s:%d/", env.Hosts[0].Address, polite.HostPort(8080)))
	start = time.Now()
	require.NoError(t, h.Stop(ctx, polite.ContainerID, 10*time.Second))
	assert.Less(t, time.Since(start), 5*time.Second, "SIGTERM ends it without waiting the timeout")
}

func TestHealthCheck(t *testing.T) {
	h, _ := hosts(t)
	ctx := testCtx(t)
	good := taskSpec(unique("good"), unique("app"))
	good.Healthcheck = []string{"/httpserver", "-check", "http://127.0.0.1:8080/health"}
	bad := taskSpec(unique("bad"), unique("app"))
	bad.Healthcheck = []string{"/httpserver", "-check", "http://127.0.0.1:9/"}
	none := taskSpec(unique("none"), unique("app"))

	gt, bt, nt := run(t, h, good), run(t, h, bad), run(t, h, none)
	get(t, fmt.Sprintf("http://%s:%d/", env.Hosts[0].Address, gt.HostPort(8080)))

	ok, err := h.HealthCheck(ctx, gt.ContainerID)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = h.HealthCheck(ctx, bt.ContainerID)
	require.NoError(t, err)
	assert.False(t, ok)
	_, err = h.HealthCheck(ctx, nt.ContainerID)
	require.Error(t, err, "a container without a healthcheck")
	var he *providers.HostError
	assert.ErrorAs(t, err, &he)

	require.NoError(t, h.Stop(ctx, gt.ContainerID, time.Second))
	ok, err = h.HealthCheck(ctx, gt.ContainerID)
	require.NoError(t, err, "a stopped task is unhealthy, not an error")
	assert.False(t, ok)
}

func TestCreateFailures(t *testing.T) {
	h, _ := hosts(t)
	ctx := testCtx(t)
	app := unique("app")

	missing := taskSpec(unique("noimage"), app)
	missing.Image = "localhost/deck-no-such-image:1"
	_, err := h.Create(ctx, missing)
	assert.ErrorIs(t, err, providers.ErrNotFound)
	var he *providers.HostError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, "h1", he.Host)
	assert.Equal(t, "creating container "+missing.Name, he.Op)

	nosecret := taskSpec(unique("nosecret"), app)
	nosecret.Secrets = []providers.TaskSecret{{Secret: unique("deck-missing"), Env: "X"}}
	_, err = h.Create(ctx, nosecret)
	assert.ErrorIs(t, err, providers.ErrNotFound)

	first := run(t, h, taskSpec(unique("dup"), app))
	_, err = h.Create(ctx, taskSpec(first.Name, app))
	assert.ErrorContains(t, err, "already in use")
	list, err := h.List(ctx, app, "")
	require.NoError(t, err)
	assert.Len(t, list, 1, "failed creates leave nothing behind")
}

func TestVolumes(t *testing.T) {
	h, _ := hosts(t)
	ctx := testCtx(t)
	spec := taskSpec(unique("vol"), unique("app"))
	vol := unique("deck-test-data")
	spec.Volumes = []manifest.Volume{
		{Type: "volume", Source: vol, Target: "/data"},
		{Type: "bind", Source: t.TempDir(), Target: "/conf", ReadOnly: true},
	}
	task := run(t, h, spec)
	data, err := containers.Inspect(h.call(ctx), task.ContainerID, nil)
	require.NoError(t, err)
	got := map[string]string{}
	for _, m := range data.Mounts {
		got[m.Destination] = fmt.Sprintf("%s %s rw=%v", m.Type, m.Name, m.RW)
	}
	assert.Equal(t, "volume "+vol+" rw=true", got["/data"])
	assert.Equal(t, "bind  rw=false", got["/conf"])
}

func TestImages(t *testing.T) {
	a, b := hosts(t)
	ctx := testCtx(t)
	for _, h := range []*Host{a, b} {
		ok, err := h.ImageExists(ctx, testImage)
		require.NoError(t, err)
		assert.True(t, ok, "%s has the test image", h.Name())
		ok, err = h.ImageExists(ctx, "localhost/deck-no-such-image:1")
		require.NoError(t, err)
		assert.False(t, ok)
	}
	err := a.ExportImage(ctx, "localhost/deck-no-such-image:1", io.Discard)
	assert.ErrorIs(t, err, providers.ErrNotFound)
	assert.Error(t, b.LoadImage(ctx, strings.NewReader("not an image archive")))

	// A second image, built and moved the other way round, and run on its new host.
	dir, err := imageContext(t)
	require.NoError(t, err)
	ref := "localhost/" + unique("deck-test-moved") + ":1"
	start := time.Now()
	require.NoError(t, b.Build(ctx, providers.BuildRequest{Ref: ref, Context: dir, Containerfile: "Containerfile",
		Args: map[string]string{"UNUSED": "1"}}))
	t.Logf("timing: build over ssh in %v", time.Since(start))
	start = time.Now()
	require.NoError(t, copyImage(ctx, b, a, ref))
	t.Logf("timing: export h2 (ssh) -> load h1 in %v", time.Since(start))
	spec := taskSpec(unique("moved"), unique("app"))
	spec.Image = ref
	task := run(t, a, spec)
	assert.Equal(t, "running", task.State)
}

func TestPullMissing(t *testing.T) {
	h, _ := hosts(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// No registry answers here: the pull must fail (not hang) with a HostError.
	err := h.PullImage(ctx, "127.0.0.1:1/deck/none:1", nil)
	var he *providers.HostError
	assert.ErrorAs(t, err, &he)
}

func TestSecrets(t *testing.T) {
	a, b := hosts(t)
	for _, h := range []*Host{a, b} {
		ctx := testCtx(t)
		prefix := unique("deck-test-sec") + "-"
		require.NoError(t, h.EnsureSecret(ctx, prefix+"b", []byte("v1")))
		require.NoError(t, h.EnsureSecret(ctx, prefix+"a", []byte("v2")))
		require.NoError(t, h.EnsureSecret(ctx, prefix+"a", []byte("v2")), "exists already")
		names, err := h.ListSecrets(ctx, prefix)
		require.NoError(t, err)
		assert.Equal(t, []string{prefix + "a", prefix + "b"}, names)
		require.NoError(t, h.RemoveSecret(ctx, prefix+"a"))
		require.NoError(t, h.RemoveSecret(ctx, prefix+"a"), "removing a missing secret")
		names, err = h.ListSecrets(ctx, prefix)
		require.NoError(t, err)
		assert.Equal(t, []string{prefix + "b"}, names)
		require.NoError(t, h.RemoveSecret(ctx, prefix+"b"))
	}
	// Several decks ensuring one new secret at once all succeed (4.3 answers the losers
	// with HTTP 500 "secret name in use", not 409).
	name := unique("deck-test-race")
	t.Cleanup(func() { _ = a.RemoveSecret(context.Background(), name) })
	errs := make(chan error, 4)
	for range 4 {
		go func() { errs <- a.EnsureSecret(testCtx(t), name, []byte("same")) }()
	}
	for range 4 {
		assert.NoError(t, <-errs)
	}

	// A rejected value must not show up in the error.
	err := a.EnsureSecret(testCtx(t), "bad/name", []byte("do-not-print-me"))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "do-not-print-me")
}

// copyImage streams ref from one host to another without a temporary file.
func copyImage(ctx context.Context, from, to *Host, ref string) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(from.ExportImage(ctx, ref, pw)) }()
	err := to.LoadImage(ctx, pr)
	_ = pr.CloseWithError(errors.New("load ended"))
	return err
}

// A paused (frozen) task can be stopped: Podman 4.3 refuses to stop one, which kept the
// controller from replacing it.
func TestStopAPausedTask(t *testing.T) {
	h, _ := hosts(t)
	ctx := testCtx(t)
	task := run(t, h, taskSpec(unique("frozen"), unique("app")))
	get(t, fmt.Sprintf("http://%s:%d/", env.Hosts[0].Address, task.HostPort(8080)))
	require.NoError(t, containers.Pause(h.call(ctx), task.ContainerID, nil))
	require.NoError(t, h.Stop(ctx, task.ContainerID, time.Second))
	got, err := h.Inspect(ctx, task.ContainerID)
	require.NoError(t, err)
	assert.False(t, got.Running(), "stopped: %s", got.State)
}
