// Package e2e deploys the examples with the real deck binary to three real Podman hosts
// (one reached only over ssh://) started by testhosts, and checks them over real HTTP.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/podman"
	"github.com/deckhq/deck/testhosts"
)

const buildTags = "remote containers_image_openpgp exclude_graphdriver_btrfs btrfs_noversion exclude_graphdriver_devicemapper"

var (
	repoRoot string
	deckBin  string
)

func TestMain(m *testing.M) {
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Dir(filepath.Dir(file))
	tmp, err := os.MkdirTemp("", "deck-e2e-bin")
	if err != nil {
		panic(err)
	}
	deckBin = filepath.Join(tmp, "deck")
	build := exec.Command("go", "build", "-tags", buildTags, "-o", deckBin, "./cmd/deck")
	build.Dir = repoRoot
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building deck: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	if sharedHosts != nil {
		if err := sharedHosts.Down(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.RemoveAll(tmp)
	os.Exit(code)
}

var (
	hostsOnce   sync.Once
	sharedHosts *testhosts.Env
	hostsErr    error
)

// startHosts starts three real Podman hosts (h3 reached only over ssh) once for the
// package; TestMain tears them down. Without Podman it fails under CI=true, else skips.
func startHosts(t *testing.T) *testhosts.Env {
	t.Helper()
	testhosts.Require(t)
	hostsOnce.Do(func() { sharedHosts, hostsErr = testhosts.Up(3, 3) })
	require.NoError(t, hostsErr)
	return sharedHosts
}

// result is one run of the deck binary.
type result struct {
	Stdout, Stderr string
	Code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.Code, r.Stdout, r.Stderr)
}

// app is a copy of an example in a temp dir, pointed at the test hosts.
type app struct {
	t    *testing.T
	dir  string
	env  []string
	name string
}

// newApp copies examples/NAME (with its built binary) into a temp dir.
func newApp(t *testing.T, example string, hosts *testhosts.Env, extraEnv ...string) *app {
	t.Helper()
	src := filepath.Join(repoRoot, "examples", example)
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS(src)))
	// The example's binary is built here (over any copy make examples left), so the test
	// deploys the code it was built from.
	build := exec.Command("go", "build", "-o", filepath.Join(dir, example), "./examples/"+example)
	build.Dir = repoRoot
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))
	env := append(os.Environ(), "DECK_HOSTS_FILE="+hosts.HostsFile, "NO_COLOR=1",
		"DECK_LB_LISTEN="+hosts.LB.Listen, "DECK_LB_ADMIN="+hosts.LB.Admin,
		"GITHUB_ACTIONS=") // the suite run in GitHub Actions: deck's output as elsewhere
	// The hosts are shared by the package's tests and every test's app has the example's
	// name: leave nothing of it behind for the next test.
	t.Cleanup(func() { removeApp(t, hosts, example) })
	return &app{t: t, dir: dir, env: append(env, extraEnv...), name: example}
}

// removeApp removes every container of app from every reachable host, its records, and
// its routes from the load balancer.
func removeApp(t *testing.T, hosts *testhosts.Env, app string) {
	for _, b := range hosts.LBs {
		removeRoutes(t, b, app)
	}
	fleet, obs := providers.Observe(context.Background(), podman.Dialer{}, hosts.Specs(), app, "")
	defer fleet.Close()
	for _, h := range obs.Hosts {
		c := fleet.Host(h.Spec.Name)
		if c == nil {
			continue
		}
		for _, task := range h.Tasks {
			if err := c.Remove(context.Background(), task.ContainerID); err != nil {
				t.Logf("cleanup: %v", err)
			}
		}
		// Its revisions, desired state and lock too, so the next test numbers from 1 and
		// does not wait out the lock of a controller the test killed while it held it
		// (every process of the test has ended by now: their cleanups ran first).
		recs, err := c.ListRecords(context.Background(), "deck-")
		if err != nil {
			t.Logf("cleanup: %v", err)
			continue
		}
		// A lock's renewal records carry no app label: they go with the chain (the name's
		// "deck-lock.<hash>." prefix) of the app's labelled generations.
		chains := map[string]bool{}
		for _, r := range recs {
			if r.Labels["deck.lock.app"] == app {
				if parts := strings.SplitN(r.Name, ".", 3); len(parts) == 3 {
					chains[parts[0]+"."+parts[1]+"."] = true
				}
			}
		}
		for _, r := range recs {
			parts := strings.SplitN(r.Name, ".", 3)
			inChain := len(parts) == 3 && chains[parts[0]+"."+parts[1]+"."]
			if r.Labels[providers.LabelApp] == app || r.Labels["deck.lock.app"] == app || inChain {
				_ = c.RemoveRecord(context.Background(), r.Name)
			}
		}
	}
}

func (a *app) write(rel, content string) {
	a.t.Helper()
	require.NoError(a.t, os.WriteFile(filepath.Join(a.dir, rel), []byte(content), 0o644))
}

func (a *app) deck(args ...string) result {
	a.t.Helper()
	return a.deckCtx(context.Background(), args...)
}

func (a *app) deckCtx(ctx context.Context, args ...string) result {
	a.t.Helper()
	return a.deckRun(ctx, nil, args...)
}

// deckRun runs deck in the app's folder with stdin (nil: none) and returns its output.
func (a *app) deckRun(ctx context.Context, stdin io.Reader, args ...string) result {
	a.t.Helper()
	cmd := exec.CommandContext(ctx, deckBin, args...)
	cmd.Dir = a.dir
	cmd.Env = a.env
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		a.t.Fatalf("running deck %v: %v", args, err)
	}
	return result{Stdout: stdout.String(), Stderr: stderr.String(), Code: code}
}

// status runs deck status --output json.
func (a *app) status() statusDoc {
	a.t.Helper()
	r := a.deck("status", "--output", "json")
	require.Equal(a.t, 0, r.Code, r.String())
	var st statusDoc
	require.NoError(a.t, json.Unmarshal([]byte(r.Stdout), &st), r.Stdout)
	return st
}

type statusDoc struct {
	Services []struct {
		Name    string `json:"name"`
		Desired *int   `json:"desired"`
		Running int    `json:"running"`
		Healthy int    `json:"healthy"`
		Tasks   []struct {
			ID         string   `json:"id"`
			Host       string   `json:"host"`
			State      string   `json:"state"`
			Healthy    bool     `json:"healthy"`
			Revision   string   `json:"revision"`
			Endpoint   string   `json:"endpoint"`
			Registered []string `json:"registered"`
		} `json:"tasks"`
	} `json:"services"`
	Hosts []struct {
		Name      string `json:"name"`
		Reachable bool   `json:"reachable"`
		Error     string `json:"error"`
		Tasks     int    `json:"tasks"`
	} `json:"hosts"`
	LoadBalancers []struct {
		Name      string `json:"name"`
		Reachable bool   `json:"reachable"`
		Routes    []struct {
			Service string   `json:"service"`
			Targets []string `json:"targets"`
		} `json:"routes"`
	} `json:"load_balancers"`
}

func get(url string) (int, string, error) {
	c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// containers lists every deck container on every reachable host, straight from Podman.
func containers(t *testing.T, hosts *testhosts.Env, app string) []providers.Task {
	t.Helper()
	return observe(hosts.Specs(), app)
}

// containersOn are app's containers on the named hosts only.
func containersOn(t *testing.T, hosts *testhosts.Env, app string, names ...string) []providers.Task {
	t.Helper()
	var specs []manifest.HostSpec
	for _, s := range hosts.Specs() {
		if slices.Contains(names, s.Name) {
			specs = append(specs, s)
		}
	}
	return observe(specs, app)
}

func observe(specs []manifest.HostSpec, app string) []providers.Task {
	fleet, obs := providers.Observe(context.Background(), podman.Dialer{}, specs, app, "")
	defer fleet.Close()
	var out []providers.Task
	for _, h := range obs.Hosts {
		out = append(out, h.Tasks...)
	}
	return out
}

func containerIDs(ts []providers.Task) string {
	var ids []string
	for _, t := range ts {
		ids = append(ids, t.Host+"/"+t.ContainerID+"/"+t.State)
	}
	return strings.Join(ids, "\n")
}
