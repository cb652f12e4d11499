package history

import (
	"bytes"
	"cmp"
	"context"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"time"
)

// Meta says who made a revision, from where and from which commit.
type Meta struct {
	Who     string `json:"who"`               // github:ACTOR in GitHub Actions, else user@machine
	Where   string `json:"where"`             // the CI run's URL, else machine:directory
	Commit  string `json:"commit,omitempty"`  // HEAD, with "-dirty" for uncommitted changes
	Message string `json:"message,omitempty"` // HEAD's subject line
	Trigger string `json:"trigger"`           // e.g. "deck deploy", "deck rollback --to 2"
}

// gitTimeout bounds the git commands CollectMeta runs: a deploy must not wait on a slow
// file system or a huge work tree for its history.
const gitTimeout = 3 * time.Second

// CollectMeta describes who deploys from dir, and with which commit. It reads only the
// few variables it names (never the rest of the environment, which holds secrets);
// Commit and Message are "" when dir is not in a git work tree. Trigger is the caller's.
func CollectMeta(dir string, getenv func(string) string) Meta {
	host, _ := os.Hostname()
	var m Meta
	if actor := getenv("GITHUB_ACTOR"); actor != "" {
		m.Who = "github:" + actor
	} else {
		name := getenv("USER")
		if u, err := user.Current(); name == "" && err == nil {
			name = u.Username
		}
		m.Who = name + "@" + host
	}
	server, repo, run := getenv("GITHUB_SERVER_URL"), getenv("GITHUB_REPOSITORY"), getenv("GITHUB_RUN_ID")
	if server != "" && repo != "" && run != "" {
		m.Where = strings.TrimSuffix(server, "/") + "/" + repo + "/actions/runs/" + run
	} else {
		abs, err := filepath.Abs(dir)
		if err != nil {
			abs = dir
		}
		m.Where = host + ":" + abs
	}
	m.Commit, m.Message = gitHead(dir)
	if m.Commit == "" {
		// A CI job that downloaded the source rather than checking it out has no .git,
		// but says which commit it runs (GitHub Actions; GitLab CI).
		m.Commit = cmp.Or(getenv("GITHUB_SHA"), getenv("CI_COMMIT_SHA"))
	}
	return m
}

// gitHead returns HEAD's id (+ "-dirty" when the work tree has changes) and subject, or
// "" when dir is not in a git work tree or git does not answer in time.
func gitHead(dir string) (commit, message string) {
	ctx, cancel := context.WithTimeout(context.Background(), gitTimeout)
	defer cancel()
	commit, err := git(ctx, dir, "rev-parse", "--verify", "HEAD")
	if err != nil {
		return "", ""
	}
	message, _ = git(ctx, dir, "log", "-1", "--format=%s")
	// --no-optional-locks: status must not take the index lock from the user's own git.
	if status, err := git(ctx, dir, "--no-optional-locks", "status", "--porcelain"); err != nil || status != "" {
		commit += "-dirty" // when status fails, claiming a clean tree would be the worse error
	}
	return commit, message
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	var out bytes.Buffer
	cmd.Stdout = &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}
