package pipeline

import (
	"github.com/deckhq/deck/executor"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
)

func TestBuildRefFollowsTheContextTheBuildSees(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, body string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, rel), []byte(body), 0o644))
	}
	write("Containerfile", "FROM scratch\nCOPY app /app\n")
	write("app", "binary v1")
	write(".containerignore", "*.log\n")
	write("deck/web.yaml", "count: 1\n")
	b := manifest.BuildSpec{Context: dir, Containerfile: filepath.Join(dir, "Containerfile")}
	skip := []string{filepath.Join(dir, "deck/web.yaml")}
	ref := func() string {
		r, err := BuildRef("shop", "web", b, skip)
		require.NoError(t, err)
		return r
	}
	first := ref()
	assert.Regexp(t, `^localhost/deck/shop-web:[0-9a-f]{16}$`, first)
	assert.Equal(t, first, ref(), "same context, same ref")

	write("debug.log", "noise")
	assert.Equal(t, first, ref(), "files the ignore file excludes do not count")
	write("deck/web.yaml", "count: 5\n")
	assert.Equal(t, first, ref(), "deck's own manifests do not count")

	write("app", "binary v2")
	second := ref()
	assert.NotEqual(t, first, second, "a changed file is a new image")
	b.Args = map[string]string{"MODE": "fast"}
	assert.NotEqual(t, second, ref(), "build args count")
	write("Containerfile", "FROM scratch\nCOPY app /bin/app\n")
	assert.NotEqual(t, second, ref(), "the Containerfile counts")
}

func TestResolveDigestsSecretsWithoutKeepingTheValueInTheRevision(t *testing.T) {
	spec := manifest.ServiceSpec{Name: "api", Task: manifest.TaskDef{Image: "registry.example/api:1"},
		Secrets: []manifest.Secret{{Name: "TOKEN", FromEnv: "API_TOKEN"}}}
	env := map[string]string{"API_TOKEN": "hunter2-value"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	r1, err := Resolve("shop", "prod", []manifest.ServiceSpec{spec}, nil, lookup)
	require.NoError(t, err)
	td := r1.Desired[0].Revision.Task
	require.Len(t, td.Secrets, 1)
	assert.NotContains(t, td.Secrets[0].Digest, "hunter2")
	name := executor.SecretName("shop", "prod", "api", "TOKEN", td.Secrets[0].Digest)
	assert.Equal(t, "hunter2-value", string(r1.Secrets[name]))

	env["API_TOKEN"] = "another-value"
	r2, err := Resolve("shop", "prod", []manifest.ServiceSpec{spec}, nil, lookup)
	require.NoError(t, err)
	assert.NotEqual(t, r1.Desired[0].Revision.ID, r2.Desired[0].Revision.ID, "a new secret value is a new revision")

	delete(env, "API_TOKEN")
	_, err = Resolve("shop", "prod", []manifest.ServiceSpec{spec}, nil, lookup)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "API_TOKEN")
}

func BenchmarkSecretDigest(b *testing.B) {
	for i := 0; i < b.N; i++ {
		executor.SecretDigest("shop", "prod", "api", "TOKEN", []byte("hunter2"))
	}
}
