package history

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/providers"
)

func TestPruneImagesKeepsWhatRevisionsAndContainersNeed(t *testing.T) {
	c := newCluster(t, 3)
	const repo = "localhost/deck/shop-web:"
	for _, h := range c.hosts[:2] {
		for _, tag := range []string{"a1", "b2", "c3", "d4"} {
			h.AddImage(repo + tag)
		}
		h.AddImage("localhost/deck/shop-web-admin:a1") // another service's repository
		h.AddImage("registry.example/web:1")
	}
	// A stopped container still uses b2 on h2.
	_, err := c.hosts[1].Create(context.Background(), providers.TaskSpec{Name: "old", Image: repo + "b2"})
	require.NoError(t, err)
	c.hosts[2].SetDown(true)

	keep := map[string]bool{repo + "c3": true, repo + "d4": true}
	removed, err := PruneImages(context.Background(), c.hosts, map[string]map[string]bool{repo: keep})
	assert.Equal(t, []string{"h1 " + repo + "a1", "h1 " + repo + "b2", "h2 " + repo + "a1"}, removed)
	require.ErrorIs(t, err, providers.ErrUnreachable, "h3 is down")
	assert.ErrorContains(t, err, "host h3")

	for i, h := range c.hosts[:2] {
		left, err := h.ListImages(context.Background(), "")
		require.NoError(t, err)
		var refs []string
		for _, im := range left {
			refs = append(refs, im.Ref)
		}
		want := []string{"localhost/deck/shop-web-admin:a1", repo + "c3", repo + "d4", "registry.example/web:1"}
		if i == 1 {
			want = []string{"localhost/deck/shop-web-admin:a1", repo + "b2", repo + "c3", repo + "d4", "registry.example/web:1"}
		}
		assert.Equal(t, want, refs, "host %s", h.Name())
	}
	_, err = PruneImages(context.Background(), c.hosts, map[string]map[string]bool{"shop-web": keep})
	assert.ErrorContains(t, err, "does not name a repository")
}
