package fake_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/fake"
)

func newHost(t *testing.T) *fake.Host {
	t.Helper()
	h := fake.NewCloud().AddHost(manifest.HostSpec{Name: "h1", URL: "fake://h1"}, manifest.Resources{CPU: 2048, Memory: 4096})
	h.AddImage("img")
	return h
}

func TestRecords(t *testing.T) {
	h := newHost(t)
	ctx := context.Background()
	clock := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	h.SetClock(func() time.Time { return clock })

	labels := map[string]string{"holder": "me"}
	require.NoError(t, h.CreateRecord(ctx, "deck.lock.b", labels))
	labels["holder"] = "changed after the call"
	clock = clock.Add(time.Minute)
	require.NoError(t, h.CreateRecord(ctx, "deck.lock.a", nil))
	require.NoError(t, h.CreateRecord(ctx, "deck.other", nil))

	err := h.CreateRecord(ctx, "deck.lock.b", map[string]string{"holder": "other"})
	assert.ErrorIs(t, err, providers.ErrExists)

	recs, err := h.ListRecords(ctx, "deck.lock.")
	require.NoError(t, err)
	require.Len(t, recs, 2, "only the prefix")
	assert.Equal(t, "deck.lock.a", recs[0].Name, "sorted by name")
	assert.Equal(t, "deck.lock.b", recs[1].Name)
	assert.Equal(t, map[string]string{"holder": "me"}, recs[1].Labels, "the first create's labels, copied")
	assert.Equal(t, clock.Add(-time.Minute), recs[1].Created, "created by the host's clock")
	assert.Equal(t, clock, recs[0].Created)
	recs[1].Labels["holder"] = "mutated by a caller"
	again, _ := h.ListRecords(ctx, "deck.lock.b")
	assert.Equal(t, "me", again[0].Labels["holder"], "callers get copies")

	now, err := h.Now(ctx)
	require.NoError(t, err)
	assert.Equal(t, clock, now)

	require.NoError(t, h.RemoveRecord(ctx, "deck.lock.a"))
	assert.ErrorIs(t, h.RemoveRecord(ctx, "deck.lock.a"), providers.ErrNotFound)
	for _, bad := range []string{"", "-a", "a/b", "a:b", string(make([]byte, 65))} {
		assert.ErrorContains(t, h.CreateRecord(ctx, bad, nil), "invalid record name", "%q", bad)
	}
	assert.Equal(t, []string{"create record deck.lock.b", "create record deck.lock.a", "create record deck.other",
		"create record deck.lock.b", "remove record deck.lock.a", "remove record deck.lock.a"}, h.Calls)
}

func TestCreateThenStart(t *testing.T) {
	h := newHost(t)
	ctx := context.Background()
	created, err := h.Create(ctx, providers.TaskSpec{Name: "web-1", Image: "img", Port: 8080,
		Labels: map[string]string{providers.LabelService: "web"}})
	require.NoError(t, err)
	assert.Equal(t, "created", created.State)
	assert.Empty(t, created.Ports)
	assert.Equal(t, "web", created.Service)

	started, err := h.Start(ctx, created.ContainerID)
	require.NoError(t, err)
	assert.True(t, started.Running())
	assert.NotZero(t, started.HostPort(8080))
	got, err := h.Inspect(ctx, created.ContainerID)
	require.NoError(t, err)
	assert.Equal(t, started, got)
	assert.Equal(t, []string{"create web-1", "start " + created.ContainerID}, h.Calls)

	_, err = h.Start(ctx, "nope")
	assert.ErrorIs(t, err, providers.ErrNotFound)
	_, err = h.Inspect(ctx, "nope")
	assert.ErrorIs(t, err, providers.ErrNotFound)
}

func TestExitsAndOutput(t *testing.T) {
	h := newHost(t)
	ctx := context.Background()
	h.Exits = func(s providers.TaskSpec) (int, bool) { return 3, s.Name == "crash" }
	h.Output = func(s providers.TaskSpec) []string { return []string{"one", "two", s.Name + " died"} }

	crash, err := h.Run(ctx, providers.TaskSpec{Name: "crash", Image: "img"})
	require.NoError(t, err, "a start that exits at once is not a start error")
	assert.Equal(t, "exited", crash.State)
	assert.Equal(t, 3, crash.ExitCode)
	assert.False(t, crash.FinishedAt.IsZero())
	ok, err := h.Run(ctx, providers.TaskSpec{Name: "ok", Image: "img"})
	require.NoError(t, err)
	assert.True(t, ok.Running())

	logs, err := h.Logs(ctx, crash.ContainerID, 2)
	require.NoError(t, err)
	assert.Equal(t, []string{"two", "crash died"}, logs, "the last lines, oldest first")
	logs, err = h.Logs(ctx, crash.ContainerID, 0)
	require.NoError(t, err)
	assert.Len(t, logs, 3, "tail 0 is everything")
	_, err = h.Logs(ctx, "nope", 2)
	assert.ErrorIs(t, err, providers.ErrNotFound)
}

func TestFileSecrets(t *testing.T) {
	h := newHost(t)
	ctx := context.Background()
	require.NoError(t, h.EnsureSecret(ctx, "tok", []byte("v1")))
	task, err := h.Create(ctx, providers.TaskSpec{Name: "a", Image: "img", Secrets: []providers.TaskSecret{
		{Secret: "tok", File: "token"}, {Secret: "tok", Env: "TOKEN"}}})
	require.NoError(t, err)
	assert.Equal(t, "token", h.TaskSpec(task.ContainerID).Secrets[0].File, "recorded as given")
	assert.Equal(t, map[string][]byte{"/run/secrets/token": []byte("v1")}, h.Files(task.ContainerID))

	for _, bad := range []providers.TaskSecret{{Secret: "tok"}, {Secret: "tok", Env: "X", File: "x"}, {Secret: "tok", File: "a/b"}} {
		_, err := h.Create(ctx, providers.TaskSpec{Name: "b", Image: "img", Secrets: []providers.TaskSecret{bad}})
		assert.Error(t, err, "%+v", bad)
	}
}

func TestDownHostErrorsSayUnreachable(t *testing.T) {
	h := newHost(t)
	ctx := context.Background()
	task, err := h.Create(ctx, providers.TaskSpec{Name: "a", Image: "img"})
	require.NoError(t, err)
	h.SetDown(true)

	_, err = h.List(ctx, "", "")
	assert.EqualError(t, err, "host h1 (fake://h1): listing containers: unreachable: connection refused")
	assert.ErrorIs(t, err, providers.ErrUnreachable)
	var he *providers.HostError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, "listing containers", he.Op)

	err = h.Stop(ctx, task.ContainerID, time.Second)
	assert.EqualError(t, err, "host h1 (fake://h1): stopping container "+task.ContainerID+": unreachable: connection refused")
	assert.ErrorIs(t, h.CreateRecord(ctx, "x", nil), providers.ErrUnreachable)
	_, err = h.Now(ctx)
	assert.ErrorContains(t, err, "reading the host's clock: unreachable")

	h.SetDown(false)
	_, err = h.List(ctx, "", "")
	assert.NoError(t, err)
}

// Volumes behave as Podman's: created with the first container that mounts them, kept
// when it is removed, and refused for removal while any container mounts them.
func TestVolumes(t *testing.T) {
	h := newHost(t)
	ctx := context.Background()
	spec := providers.TaskSpec{Name: "db", Image: "img", Volumes: []manifest.Volume{
		{Type: "volume", Source: "shop.prod.data", Target: "/data"}, {Type: "bind", Source: "/srv", Target: "/srv"}}}
	task, err := h.Create(ctx, spec)
	require.NoError(t, err)
	assert.Equal(t, []string{"shop.prod.data"}, h.Volumes(), "bind mounts are no volumes")

	err = h.RemoveVolume(ctx, "shop.prod.data")
	assert.ErrorIs(t, err, providers.ErrInUse)
	assert.EqualError(t, err, "volume shop.prod.data is used by container(s) db: in use")
	require.NoError(t, h.Remove(ctx, task.ContainerID))
	assert.Equal(t, []string{"shop.prod.data"}, h.Volumes(), "removing the container keeps its named volume")

	require.NoError(t, h.RemoveVolume(ctx, "shop.prod.data"))
	assert.Empty(t, h.Volumes())
	assert.ErrorIs(t, h.RemoveVolume(ctx, "shop.prod.data"), providers.ErrNotFound)
}
