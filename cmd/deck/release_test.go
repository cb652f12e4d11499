package main

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// TestReleaseSnapshot builds a release the way `make release-snapshot` does, with the
// GoReleaser version the Makefile pins, and runs the binary from its archive for this
// machine. The full configuration (linux and darwin, amd64 and arm64) is checked; only this
// machine's target is built, to keep the suite short: the archive's name, its entry in
// checksums.txt, its contents and the version and commit the binary reports are what a user
// downloading a release depends on.
func TestReleaseSnapshot(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	goreleaser := goreleaserCommand(t, root)

	head := strings.TrimSpace(run(t, root, nil, "git", "rev-parse", "HEAD"))
	require.Regexp(t, `^[0-9a-f]{40}$`, head, "the release is built from a git checkout")

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	// The configuration as committed: every target, archive and changelog setting.
	run(t, root, ctx, goreleaser[0], append(goreleaser[1:], "check")...)

	// A release is built from a commit in a clone that has a remote (GoReleaser reads the
	// commit only then), as on a CI runner, not from this working tree's uncommitted files.
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	run(t, dir, ctx, "git", "clone", "--quiet", root, src)
	run(t, src, ctx, "git", "checkout", "--quiet", head)
	cfg := singleTargetConfig(t, filepath.Join(src, ".goreleaser.yaml"), filepath.Join(dir, "dist"))
	cfgPath := filepath.Join(dir, "goreleaser.yaml")
	require.NoError(t, os.WriteFile(cfgPath, cfg, 0o644))
	run(t, src, ctx, goreleaser[0], append(goreleaser[1:], "release", "--snapshot", "--clean", "--config", cfgPath)...)
	dist := filepath.Join(dir, "dist")

	var meta struct {
		Version string `json:"version"`
		Commit  string `json:"commit"`
	}
	raw, err := os.ReadFile(filepath.Join(dist, "metadata.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &meta))
	require.Equal(t, head, meta.Commit)
	require.Regexp(t, `^\d+\.\d+\.\d+-snapshot\+[0-9a-f]{7}$`, meta.Version)

	archive := fmt.Sprintf("deck_%s_%s_%s.tar.gz", meta.Version, runtime.GOOS, runtime.GOARCH)
	sums := readChecksums(t, filepath.Join(dist, "checksums.txt"))
	require.Contains(t, sums, archive, "checksums.txt lists the archive")
	require.Equal(t, sums[archive], sha256File(t, filepath.Join(dist, archive)), "the archive's checksum")

	files := extract(t, filepath.Join(dist, archive), filepath.Join(dir, "x"))
	for _, f := range []string{"deck", "README.md", "schema/deck.schema.json", "schema/service.schema.json"} {
		require.Contains(t, files, f, "the archive holds %s", f)
	}

	out := run(t, dir, ctx, filepath.Join(dir, "x", "deck"), "version")
	want := fmt.Sprintf("deck %s (commit %s, %s, %s/%s)\n", meta.Version, head, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	require.Equal(t, want, out)
}

// goreleaserCommand is the Makefile's GORELEASER, so the test and `make release-snapshot`
// cannot use different versions.
func goreleaserCommand(t *testing.T, root string) []string {
	t.Helper()
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^GORELEASER \?= \$\(GO\) run (\S+@v[0-9.]+)$`).FindSubmatch(mk)
	require.NotNil(t, m, "the Makefile pins GoReleaser as GORELEASER ?= $(GO) run MODULE@VERSION")
	return []string{"go", "run", string(m[1])}
}

// singleTargetConfig is the release configuration built for this machine only, into dist.
func singleTargetConfig(t *testing.T, path, dist string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var cfg map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &cfg))
	builds, ok := cfg["builds"].([]any)
	require.True(t, ok, "builds is a list")
	require.Len(t, builds, 1)
	b := builds[0].(map[string]any)
	require.ElementsMatch(t, []any{"linux", "darwin"}, b["goos"])
	require.ElementsMatch(t, []any{"amd64", "arm64"}, b["goarch"])
	b["goos"] = []string{runtime.GOOS}
	b["goarch"] = []string{runtime.GOARCH}
	cfg["dist"] = dist
	out, err := yaml.Marshal(cfg)
	require.NoError(t, err)
	return out
}

func run(t *testing.T, dir string, ctx context.Context, name string, args ...string) string {
	t.Helper()
	if ctx == nil {
		ctx = context.Background()
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, err, "%s %s\n%s%s", name, strings.Join(args, " "), stdout.String(), stderr.String())
	return stdout.String()
}

func readChecksums(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		require.True(t, ok, "checksums.txt line %q is SUM  NAME", sc.Text())
		sums[name] = sum
	}
	require.NoError(t, sc.Err())
	return sums
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	h := sha256.New()
	_, err = io.Copy(h, f)
	require.NoError(t, err)
	return hex.EncodeToString(h.Sum(nil))
}

// extract unpacks a tar.gz into dir and returns the names of the regular files in it.
func extract(t *testing.T, archive, dir string) []string {
	t.Helper()
	f, err := os.Open(archive)
	require.NoError(t, err)
	defer f.Close()
	gz, err := gzip.NewReader(f)
	require.NoError(t, err)
	tr := tar.NewReader(gz)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := filepath.Clean(h.Name)
		require.False(t, strings.HasPrefix(name, ".."), "archive entry %q stays inside", h.Name)
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		out, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o755)
		require.NoError(t, err)
		_, err = io.Copy(out, tr)
		require.NoError(t, err)
		require.NoError(t, out.Close())
		names = append(names, filepath.ToSlash(name))
	}
	return names
}
