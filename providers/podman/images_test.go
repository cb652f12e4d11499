package podman

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
)

// buildLabelled builds ref on h as the test image plus a label: a new image id, quickly.
func buildLabelled(t *testing.T, h *Host, ref, label string) {
	t.Helper()
	dir := t.TempDir()
	cf := "FROM " + testImage + "\nLABEL deck.test=" + label + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Containerfile"), []byte(cf), 0o644))
	require.NoError(t, h.Build(testCtx(t), providers.BuildRequest{Ref: ref, Context: dir}))
}

func imageID(t *testing.T, h *Host, ref string) string {
	t.Helper()
	list, err := h.ListImages(testCtx(t), ref)
	require.NoError(t, err)
	require.Len(t, list, 1, "one image named %s", ref)
	return list[0].ID
}

func TestListRemoveAndPruneImages(t *testing.T) {
	h, _ := hosts(t)
	ctx := testCtx(t)
	start := time.Now()
	repo := "localhost/" + unique("deck-test-prune")
	t.Cleanup(func() { // after the container's cleanup, registered later
		for _, tag := range []string{"old", "used", "spare"} {
			_ = h.RemoveImage(context.Background(), repo+":"+tag)
		}
	})
	buildLabelled(t, h, repo+":old", unique("a"))
	replaced := imageID(t, h, repo+":old")
	buildLabelled(t, h, repo+":old", unique("b")) // the first build loses its only name: dangling
	buildLabelled(t, h, repo+":used", unique("c"))
	buildLabelled(t, h, repo+":spare", unique("d"))

	list, err := h.ListImages(ctx, repo+":")
	require.NoError(t, err)
	var refs []string
	ids := map[string]bool{}
	for _, im := range list {
		refs = append(refs, im.Ref)
		ids[im.ID] = true
		assert.Positive(t, im.Size, im.Ref)
		assert.False(t, im.Created.Before(start.Add(-time.Minute)), "%s created %v", im.Ref, im.Created)
	}
	sort.Strings(refs)
	assert.Equal(t, []string{repo + ":old", repo + ":spare", repo + ":used"}, refs)
	assert.Len(t, ids, 3, "three images")
	assert.NotContains(t, ids, replaced, "the replaced build has no name now")
	none, err := h.ListImages(ctx, repo+"x")
	require.NoError(t, err)
	assert.Empty(t, none, "only names starting with the prefix")

	// A container (created, never started) uses repo:used: removing it leaves it.
	spec := taskSpec(unique("uses"), unique("app"))
	spec.Image = repo + ":used"
	task, err := h.Create(ctx, spec)
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Remove(context.Background(), task.ContainerID) })
	require.NoError(t, h.RemoveImage(ctx, repo+":used"))
	ok, err := h.ImageExists(ctx, repo+":used")
	require.NoError(t, err)
	assert.True(t, ok, "an image a container uses stays")

	require.NoError(t, h.RemoveImage(ctx, repo+":spare"))
	ok, err = h.ImageExists(ctx, repo+":spare")
	require.NoError(t, err)
	assert.False(t, ok)
	err = h.RemoveImage(ctx, repo+":spare")
	assert.ErrorIs(t, err, providers.ErrNotFound)
	assert.ErrorContains(t, err, "host h1")

	ok, err = h.ImageExists(ctx, replaced)
	require.NoError(t, err)
	require.True(t, ok, "the replaced build is still there, dangling")
	n, err := h.PruneImages(ctx)
	require.NoError(t, err)
	assert.Positive(t, n)
	ok, err = h.ImageExists(ctx, replaced)
	require.NoError(t, err)
	assert.False(t, ok, "pruned")
	ok, err = h.ImageExists(ctx, repo+":old")
	require.NoError(t, err)
	assert.True(t, ok, "named images are not pruned")
}

func TestRemoveVolume(t *testing.T) {
	h, _ := hosts(t)
	ctx := testCtx(t)
	vol := unique("deck-test-vol")
	spec := taskSpec(unique("vol"), unique("app"))
	spec.Volumes = []manifest.Volume{{Type: "volume", Source: vol, Target: "/data"}}
	task := run(t, h, spec)

	err := h.RemoveVolume(ctx, vol)
	require.ErrorIs(t, err, providers.ErrInUse)
	assert.ErrorContains(t, err, "host h1 ("+h.spec.URL+"): removing volume "+vol+": in use: ")
	assert.ErrorContains(t, err, "being used")

	require.NoError(t, h.Stop(ctx, task.ContainerID, time.Second))
	err = h.RemoveVolume(ctx, vol)
	require.ErrorIs(t, err, providers.ErrInUse, "a stopped container still uses it")
	require.NoError(t, h.Remove(ctx, task.ContainerID))

	require.NoError(t, h.RemoveVolume(ctx, vol), "the container's removal left the named volume")
	err = h.RemoveVolume(ctx, vol)
	assert.ErrorIs(t, err, providers.ErrNotFound)
	assert.ErrorContains(t, err, "removing volume "+vol+": not found")
}
