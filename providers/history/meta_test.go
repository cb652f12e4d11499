package history

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// env is a process environment that records which variables were read.
type env struct {
	vars map[string]string
	read []string
}

func (e *env) get(k string) string { e.read = append(e.read, k); return e.vars[k] }

func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=T", "-c", "user.email=t@example.com"}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return string(out)
}

func TestCollectMetaOnALaptop(t *testing.T) {
	host, err := os.Hostname()
	require.NoError(t, err)
	dir := t.TempDir()
	e := &env{vars: map[string]string{"USER": "alice", "DB_PASSWORD": "hunter2"}}

	m := CollectMeta(dir, e.get)
	assert.Equal(t, Meta{Who: "alice@" + host, Where: host + ":" + dir}, m, "not a git work tree: no commit")

	gitIn(t, dir, "init", "-q")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.txt"), []byte("a"), 0o644))
	gitIn(t, dir, "add", "a.txt")
	gitIn(t, dir, "commit", "-q", "-m", "Add a cart", "-m", "the body is not kept")
	head := gitIn(t, dir, "rev-parse", "HEAD")[:40]

	m = CollectMeta(dir, e.get)
	assert.Equal(t, head, m.Commit)
	assert.Equal(t, "Add a cart", m.Message)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.txt"), []byte("changed"), 0o644))
	m = CollectMeta(filepath.Join(dir, "."), e.get)
	assert.Equal(t, head+"-dirty", m.Commit)

	sort.Strings(e.read)
	for _, k := range e.read {
		assert.Contains(t, []string{"GITHUB_ACTOR", "GITHUB_REPOSITORY", "GITHUB_RUN_ID", "GITHUB_SERVER_URL", "GITHUB_SHA", "CI_COMMIT_SHA", "USER"}, k,
			"CollectMeta reads only the variables it names")
	}
}

func TestCollectMetaInGitHubActions(t *testing.T) {
	e := &env{vars: map[string]string{"GITHUB_ACTOR": "octocat", "USER": "runner", "GITHUB_SERVER_URL": "https://github.com/",
		"GITHUB_REPOSITORY": "shop/web", "GITHUB_RUN_ID": "42", "GITHUB_TOKEN": "ghs_secret"}}
	m := CollectMeta(t.TempDir(), e.get)
	assert.Equal(t, "github:octocat", m.Who)
	assert.Equal(t, "https://github.com/shop/web/actions/runs/42", m.Where)
	assert.NotContains(t, e.read, "GITHUB_TOKEN")
	assert.Empty(t, m.Commit, "no .git, and no GITHUB_SHA")

	// A job that downloaded the source has no .git: the commit is the one the run is for.
	e.vars["GITHUB_SHA"] = "3f2a9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b"
	m = CollectMeta(t.TempDir(), e.get)
	assert.Equal(t, "3f2a9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b", m.Commit)
}
