package providers_test

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

func TestObserveReportsEachHostAndKeepsReachableConnections(t *testing.T) {
	cloud := fake.NewCloud()
	specs := []manifest.HostSpec{{Name: "h1", URL: "fake://h1", Reserved: manifest.Resources{CPU: 100, Memory: 200}},
		{Name: "h2", URL: "fake://h2"}, {Name: "h3", URL: "fake://h3", Capacity: &manifest.Resources{CPU: 512, Memory: 1024}}}
	for _, s := range specs {
		cloud.AddHost(s, manifest.Resources{CPU: 2048, Memory: 4096}).AddImage("img")
	}
	_, err := cloud.Host("h1").Run(context.Background(), providers.TaskSpec{Name: "a", Image: "img",
		Labels: map[string]string{providers.LabelApp: "shop", providers.LabelEnv: "prod", providers.LabelService: "web"}})
	require.NoError(t, err)
	_, err = cloud.Host("h1").Run(context.Background(), providers.TaskSpec{Name: "b", Image: "img",
		Labels: map[string]string{providers.LabelApp: "other", providers.LabelEnv: "prod",
			providers.LabelSpec: `{"cpu": 300, "memory": 400}`}})
	require.NoError(t, err)
	stopped, err := cloud.Host("h1").Run(context.Background(), providers.TaskSpec{Name: "c", Image: "img",
		Labels: map[string]string{providers.LabelApp: "shop", providers.LabelEnv: "staging",
			providers.LabelSpec: `{"cpu": 1000, "memory": 1000}`}})
	require.NoError(t, err)
	require.NoError(t, cloud.Host("h1").Stop(context.Background(), stopped.ContainerID, 0))
	cloud.Host("h2").SetDown(true)

	fleet, obs := providers.Observe(context.Background(), cloud, specs, "shop", "prod")
	defer fleet.Close()
	require.Len(t, obs.Hosts, 3)
	assert.True(t, obs.Hosts[0].Reachable)
	require.Len(t, obs.Hosts[0].Tasks, 1, "only the app's tasks")
	assert.Equal(t, "h1", obs.Hosts[0].Tasks[0].Host)
	assert.Equal(t, manifest.Resources{CPU: 300, Memory: 400}, obs.Hosts[0].OtherUsed, "another app's running task; a stopped one takes nothing")
	c, known := obs.Hosts[0].Capacity()
	assert.True(t, known)
	assert.Equal(t, manifest.Resources{CPU: 2048 - 100 - 300, Memory: 4096 - 200 - 400}, c,
		"reported, minus reserved, minus what other apps use")
	assert.False(t, obs.Hosts[1].Reachable)
	assert.ErrorContains(t, obs.Hosts[1].Err, "host h2 (fake://h2): connecting: unreachable: connection refused")
	assert.ErrorIs(t, obs.Hosts[1].Err, providers.ErrUnreachable)
	c, known = obs.Hosts[2].Capacity()
	assert.True(t, known)
	assert.Equal(t, manifest.Resources{CPU: 512, Memory: 1024}, c, "configured capacity wins")
	assert.Equal(t, []string{"h1", "h3"}, fleet.Names())
}

func TestListingLeavesCapacityUnknownUntilRead(t *testing.T) {
	cloud := fake.NewCloud()
	specs := []manifest.HostSpec{{Name: "h1"}, {Name: "h2"}}
	for _, s := range specs {
		cloud.AddHost(s, manifest.Resources{CPU: 2048, Memory: 4096})
	}
	fleet, obs := providers.Connect(context.Background(), cloud, specs, "shop", "prod")
	providers.ListTasks(context.Background(), fleet, obs)
	defer fleet.Close()
	_, known := obs.Hosts[0].Capacity()
	assert.False(t, known, "capacity not read is not a number")
	assert.Empty(t, obs.Hosts[0].Info.Version)

	cloud.Host("h2").SetDown(true)
	providers.ReadCapacity(context.Background(), fleet, obs)
	c, known := obs.Hosts[0].Capacity()
	assert.True(t, known)
	assert.Equal(t, manifest.Resources{CPU: 2048, Memory: 4096}, c)
	assert.Equal(t, "fake", obs.Hosts[0].Info.Version)
	assert.False(t, obs.Hosts[1].Reachable, "a host that stops answering is unreachable")
	assert.Equal(t, []string{"h1"}, fleet.Names())
}

func TestCapacityIsReadOnceAndKeptOnTheHost(t *testing.T) {
	cloud := fake.NewCloud()
	specs := []manifest.HostSpec{{Name: "h1"}}
	h := cloud.AddHost(specs[0], manifest.Resources{CPU: 2048, Memory: 4096})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h.SetClock(func() time.Time { return now })
	read := func() (manifest.Resources, int) {
		fleet, obs := providers.Observe(context.Background(), cloud, specs, "shop", "prod")
		defer fleet.Close()
		c, known := obs.Hosts[0].Capacity()
		require.True(t, known)
		return c, h.InfoCalls()
	}
	c, calls := read()
	assert.Equal(t, manifest.Resources{CPU: 2048, Memory: 4096}, c)
	assert.Equal(t, 1, calls)
	_, calls = read()
	assert.Equal(t, 1, calls, "the recorded capacity is used while it is fresh")
	now = now.Add(providers.HostInfoMaxAge + time.Second)
	_, calls = read()
	assert.Equal(t, 2, calls, "read again once stale")
	recs, err := h.ListRecords(context.Background(), "deck-hostinfo.")
	require.NoError(t, err)
	assert.Len(t, recs, 1, "older readings are removed")
}
