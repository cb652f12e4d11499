package history_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/providers/fake"
	"github.com/deckhq/deck/providers/history"
)

// A revision is made of what the pipeline resolves: its variables are kept, its secrets
// only as digests, and nothing of deck's own environment is.
func TestRevisionsKeepVariablesButNoSecretValue(t *testing.T) {
	const value = "hunter2-the-db-password"
	env := map[string]string{"DB_PASSWORD": value, "USER": "alice", "AWS_SECRET_ACCESS_KEY": "also-" + value}
	spec := manifest.ServiceSpec{App: "shop", Env: "prod", Name: "web",
		Task:    manifest.TaskDef{Image: "registry.example/web:1", Variables: map[string]string{"MODE": "fast"}},
		Secrets: []manifest.Secret{{Name: "DB_PASSWORD", FromEnv: "DB_PASSWORD"}}}
	res, err := pipeline.Resolve("shop", "prod", []manifest.ServiceSpec{spec}, nil, func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	require.NoError(t, err)
	resolved := res.Desired[0].Revision

	cloud := fake.NewCloud()
	h := cloud.AddHost(manifest.HostSpec{Name: "h1"}, manifest.Resources{})
	s := history.New([]*fake.Host{h}, "shop", "prod")
	meta := history.CollectMeta(t.TempDir(), func(k string) string { return env[k] })
	_, err = s.Create(context.Background(), history.Revision{Service: "web", ID: resolved.ID, Task: resolved.Task,
		Kind: history.KindDeploy, Meta: meta})
	require.NoError(t, err)

	recs, err := h.ListRecords(context.Background(), "deck-rev.")
	require.NoError(t, err)
	require.Len(t, recs, 1)
	for k, v := range recs[0].Labels {
		assert.NotContains(t, k+"="+v, value, "label %s", k)
	}
	body := recs[0].Labels["deck.history"]
	assert.True(t, strings.Contains(body, `"MODE":"fast"`), body)
	assert.True(t, strings.Contains(body, resolved.Task.Secrets[0].Digest), body)

	got, err := s.Get(context.Background(), "web", 1)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"MODE": "fast"}, got.Task.Variables)
	assert.Equal(t, resolved.Task.Secrets, got.Task.Secrets, "the secret as its name and digest")
	assert.Equal(t, resolved.ID, got.ID)
}
