package fake_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/fake"
)

// What the cloud shares between hosts and containers stays each one's own to the caller:
// a record or container reads back as written, whatever the caller does with its maps
// after, and equal task definitions are parsed alike.
func TestSharedValuesReadBackAsWritten(t *testing.T) {
	ctx := context.Background()
	c := fake.NewCloud()
	h1 := c.AddHost(manifest.HostSpec{Name: "h1"}, manifest.Resources{CPU: 1024, Memory: 1024})
	h2 := c.AddHost(manifest.HostSpec{Name: "h2"}, manifest.Resources{CPU: 1024, Memory: 1024})

	labels := map[string]string{"a": "1", "b": "2"}
	require.NoError(t, h1.CreateRecord(ctx, "rec", labels))
	require.NoError(t, h2.CreateRecord(ctx, "rec", labels))
	labels["a"] = "changed after"
	for _, h := range []*fake.Host{h1, h2} {
		recs, err := h.ListRecords(ctx, "rec")
		require.NoError(t, err)
		require.Len(t, recs, 1)
		assert.Equal(t, map[string]string{"a": "1", "b": "2"}, recs[0].Labels)
		recs[0].Labels["b"] = "changed by a reader"
	}
	recs, err := h2.ListRecords(ctx, "rec")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"a": "1", "b": "2"}, recs[0].Labels)

	td := manifest.TaskDef{Image: "img", CPU: 64, Memory: 64}
	desired := providers.DesiredState{Count: manifest.Count{Value: 2}}
	var tasks []providers.Task
	for i, h := range []*fake.Host{h1, h2} {
		h.AddImage("img")
		l := providers.EncodeTaskLabels(providers.TaskMeta{App: "a", Env: "e", Service: "web", Revision: "r1",
			TaskID: []string{"t1", "t2"}[i], Spec: &td, Desired: &desired}, nil)
		tk, err := h.Run(ctx, providers.TaskSpec{Name: "web-" + l[providers.LabelTask], Image: "img", Labels: l})
		require.NoError(t, err)
		l[providers.LabelTask] = "changed after"
		tasks = append(tasks, tk)
	}
	for i, h := range []*fake.Host{h1, h2} {
		listed, err := h.List(ctx, "a", "e")
		require.NoError(t, err)
		require.Len(t, listed, 1)
		assert.Equal(t, []string{"t1", "t2"}[i], listed[0].TaskID)
		assert.Equal(t, []string{"t1", "t2"}[i], listed[0].Labels[providers.LabelTask])
		assert.Equal(t, []string{"t1", "t2"}[i], h.TaskSpec(listed[0].ContainerID).Labels[providers.LabelTask])
		assert.Equal(t, td, *listed[0].Meta.Spec)
		assert.Equal(t, desired, *listed[0].Meta.Desired)
	}
}
