package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/cmd/internal/iostreams"
	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/fake"
	"github.com/deckhq/deck/providers/lb"
	lbfake "github.com/deckhq/deck/providers/lb/fake"
)

// topApp is the harness's app with host addresses and a load balancer on h1.
const topApp = `app: shop
environments:
  test:
    hosts:
      - name: h1
        url: unix:///run/fake/h1.sock
        address: 10.0.0.1
      - name: h2
        url: unix:///run/fake/h2.sock
        address: 10.0.0.2
    load_balancers:
      - name: edge
        host: h1
        listen: 10.0.0.1:80
        admin: /run/caddy.sock
`

// topRig is a deployed api (3 tasks of cpu 256, memory 128 MiB, on port 8080) on the
// harness's two fake hosts, and a fake balancer with a route to the first task on h1.
type topRig struct {
	*harness
	bal    *lbfake.Balancer
	routed providers.Task
	dialer providers.Dialer
}

func newTopRig(t *testing.T) *topRig {
	t.Helper()
	prev := topFirstWindow
	topFirstWindow = 50 * time.Millisecond
	t.Cleanup(func() { topFirstWindow = prev })
	h := newHarness(t)
	h.write("deck/api.yaml", strings.Replace(strings.Replace(apiManifest, "COUNT", "3", 1),
		"location: registry.example/api:1", "location: registry.example/api:1\n  port: 8080", 1))
	code, _, errOut := h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)
	h.write("deck.yaml", topApp) // the balancer after the deploy: api has no route to plan
	r := &topRig{harness: h, bal: lbfake.New("edge"), dialer: h.cloud}
	h1 := h.cloud.Host("h1").Tasks()
	require.NotEmpty(t, h1)
	require.NotEmpty(t, h.cloud.Host("h2").Tasks())
	r.routed = h1[0]
	addr := r.routed.Address("10.0.0.1")
	require.NotEmpty(t, addr)
	require.NoError(t, r.bal.Put(context.Background(), lb.Route{App: "shop", Env: "test", Service: "api", Path: "/", Targets: []string{addr}}))
	r.bal.SetInFlight(addr, 3)
	for _, task := range h1 {
		h.cloud.Host("h1").SetUsage(task.ContainerID, 0.5, 64<<20)
	}
	for _, task := range h.cloud.Host("h2").Tasks() {
		h.cloud.Host("h2").SetUsage(task.ContainerID, 0.25, 32<<20)
	}
	h.cloud.Host("h2").Healthy = func(providers.TaskSpec) bool { return false }
	return r
}

// run runs deck with ctx on ios, against the rig's hosts and balancer.
func (r *topRig) runOn(ctx context.Context, ios *iostreams.IOStreams, args ...string) int {
	deps := Deps{IO: ios, Dialer: r.dialer, LookupEnv: func(string) (string, bool) { return "", false },
		OpenBalancer: func(manifest.LoadBalancerSpec, func(context.Context) (net.Conn, error)) (lb.Balancer, error) {
			return r.bal, nil
		}}
	args = append([]string{"--file", filepath.Join(r.dir, "deck.yaml"), "--config", filepath.Join(r.dir, "config.yaml")}, args...)
	return Main(ctx, args, deps)
}

func (r *topRig) run(args ...string) (int, string, string) {
	ios, _, out, errOut := iostreams.Test()
	code := r.runOn(context.Background(), ios, args...)
	return code, out.String(), errOut.String()
}

func TestTopJSONHasEachTasksCPUMemoryRequestsAndHealth(t *testing.T) {
	r := newTopRig(t)
	code, out, errOut := r.run("top", "--once", "-o", "json")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, 1, strings.Count(out, "\n"), "one JSON document on one line: %s", out)
	var top Top
	require.NoError(t, json.Unmarshal([]byte(out), &top))
	assert.Equal(t, "shop", top.App)
	assert.Equal(t, "test", top.Env)
	n1, n2 := len(r.cloud.Host("h1").Tasks()), len(r.cloud.Host("h2").Tasks())
	require.Len(t, top.Tasks, n1+n2)
	for _, task := range top.Tasks {
		assert.Equal(t, "api", task.Service)
		require.NotNil(t, task.VCPUs, "%s has no CPU rate", task.ID)
		require.NotNil(t, task.CPUPercent, task.ID)
		assert.Equal(t, uint64(128<<20), task.MemoryLimitBytes, "the task's memory limit")
		assert.Empty(t, task.Error)
		switch task.Host {
		case "h1":
			assert.InDelta(t, 0.5, *task.VCPUs, 1e-6)
			assert.InDelta(t, 200, *task.CPUPercent, 1e-4, "half a core of a quarter-vCPU reservation")
			assert.Equal(t, uint64(64<<20), task.MemoryBytes)
			assert.True(t, task.Healthy, task.Health)
			assert.Equal(t, "healthy: health check command passed", task.Health)
			if task.ID == r.routed.TaskID {
				require.NotNil(t, task.Requests, "the routed task's requests in flight")
				assert.Equal(t, 3, *task.Requests)
			} else {
				assert.Nil(t, task.Requests, "a task no balancer routes to has no request count")
			}
		case "h2":
			assert.InDelta(t, 0.25, *task.VCPUs, 1e-6)
			assert.InDelta(t, 100, *task.CPUPercent, 1e-4)
			assert.Equal(t, uint64(32<<20), task.MemoryBytes)
			assert.False(t, task.Healthy)
			assert.Contains(t, task.Health, "health check command failed")
			assert.Nil(t, task.Requests)
		default:
			t.Errorf("task %s on unknown host %q", task.ID, task.Host)
		}
	}
	require.Len(t, top.Hosts, 2)
	want := map[string]struct {
		n     int
		vcpus float64
		mem   uint64
	}{"h1": {n1, 0.5 * float64(n1), uint64(n1) * 64 << 20}, "h2": {n2, 0.25 * float64(n2), uint64(n2) * 32 << 20}}
	for _, h := range top.Hosts {
		assert.True(t, h.Reachable, h.Name)
		assert.Equal(t, want[h.Name].n, h.Tasks, h.Name)
		assert.InDelta(t, want[h.Name].vcpus, h.VCPUs, 1e-6, h.Name)
		assert.Equal(t, want[h.Name].mem, h.MemoryBytes, h.Name)
		assert.InDelta(t, 2.0, h.CPUCapacity, 1e-9, "2048 cpu units")
		assert.Equal(t, uint64(4096<<20), h.MemoryCapacityBytes)
	}

	// deck status --watch is the same command.
	code, out, errOut = r.run("status", "--watch", "--once", "-o", "json")
	require.Equal(t, 0, code, errOut)
	var again Top
	require.NoError(t, json.Unmarshal([]byte(out), &again))
	assert.Len(t, again.Tasks, n1+n2)
}

func TestTopTableOffATerminalIsOneSnapshot(t *testing.T) {
	r := newTopRig(t)
	code, out, errOut := r.run("top") // no --once: off a terminal, one snapshot all the same
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, 1, strings.Count(out, "App shop, environment test"), out)
	assert.NotContains(t, out, "\x1b[", "no colour nor redraw off a terminal")
	id := regexp.QuoteMeta(r.routed.TaskID)
	assert.Regexp(t, `(?m)^api\s+`+id+`\s+h1\s+200%\s+0\.50\s+64\.0 / 128\.0\s+3\s+healthy$`, out)
	assert.Regexp(t, `(?m)^api\s+\S+\s+h2\s+100%\s+0\.25\s+32\.0 / 128\.0\s+-\s+starting: health check command failed$`, out)
	n1 := len(r.cloud.Host("h1").Tasks())
	squeezed := regexp.MustCompile(` {2,}`).ReplaceAllString(out, "  ")
	row := fmt.Sprintf("\nh1  %d  %.2f / 2.00  %.1f / 4096.0\n", n1, 0.5*float64(n1), float64(n1*64))
	assert.Contains(t, squeezed, row, "h1's totals against its capacity")
}

// stallDialer hands out h2 with Stats that never answer (nor heed their context) until
// release is closed.
type stallDialer struct {
	cloud   *fake.Cloud
	release chan struct{}
}

type stalledHost struct {
	providers.Host
	release chan struct{}
}

func (s stalledHost) Stats(context.Context, []string) ([]providers.TaskStats, error) {
	<-s.release
	return nil, nil
}

func (d stallDialer) Dial(ctx context.Context, spec manifest.HostSpec) (providers.Host, error) {
	h, err := d.cloud.Dial(ctx, spec)
	if err != nil || spec.Name != "h2" {
		return h, err
	}
	return stalledHost{h, d.release}, nil
}

func TestTopShowsAHostWhoseStatsDoNotAnswerAsUnreachable(t *testing.T) {
	r := newTopRig(t)
	release := make(chan struct{})
	defer close(release)
	r.dialer = stallDialer{r.cloud, release}
	start := time.Now()
	code, out, errOut := r.run("top", "--once", "-o", "json", "--interval", "100ms")
	require.Equal(t, 0, code, errOut)
	assert.Less(t, time.Since(start), 5*time.Second, "the stalled host held up the snapshot")
	var top Top
	require.NoError(t, json.Unmarshal([]byte(out), &top))
	require.Len(t, top.Hosts, 2)
	assert.True(t, top.Hosts[0].Reachable)
	assert.False(t, top.Hosts[1].Reachable)
	assert.Contains(t, top.Hosts[1].Error, "host h2: reading the stats of containers: unreachable: no answer within 500ms")
	seen := map[string]int{}
	for _, task := range top.Tasks {
		seen[task.Host]++
		if task.Host == "h1" {
			assert.Equal(t, uint64(64<<20), task.MemoryBytes, "h1 is read all the same")
			continue
		}
		assert.Zero(t, task.MemoryBytes)
		assert.Nil(t, task.VCPUs)
		assert.Contains(t, task.Error, "no answer within")
	}
	assert.Equal(t, len(r.cloud.Host("h2").Tasks()), seen["h2"], "h2's tasks are listed, without stats")

	code, text, errOut := r.run("top", "--once", "--interval", "100ms")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `(?m)^h2\s+unreachable: host h2: reading the stats`, text)
}

// syncBuffer is a buffer written by the command and read by the test at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

func TestTopOnATerminalRedrawsUntilCancelled(t *testing.T) {
	r := newTopRig(t)
	ios, _, _, _ := iostreams.Test()
	out := &syncBuffer{}
	ios.Out = out
	ios.SetTTY(true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- r.runOn(ctx, ios, "top", "--interval", "50ms", "--no-color") }()

	deadline := time.After(10 * time.Second)
	for strings.Count(out.String(), ansiRedraw) < 3 {
		select {
		case code := <-done:
			t.Fatalf("deck top ended (status %d) before Ctrl-C: %s", code, out.String())
		case <-deadline:
			t.Fatalf("3 frames were not drawn within 10s: %q", out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	// A task stopped between refreshes leaves the screen: the session is read again.
	gone := r.cloud.Host("h2").Tasks()[0]
	require.NoError(t, r.cloud.Host("h2").Stop(ctx, gone.ContainerID, 0))
	mark := len(out.String())
	for {
		frames := strings.Split(out.String()[mark:], ansiRedraw)
		if len(frames) > 2 && !strings.Contains(frames[len(frames)-2], gone.TaskID) {
			break
		}
		select {
		case <-deadline:
			t.Fatalf("the stopped task %s stayed on the screen: %q", gone.TaskID, out.String()[mark:])
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	select {
	case code := <-done:
		assert.Equal(t, 0, code, "Ctrl-C is how deck top ends")
	case <-time.After(5 * time.Second):
		t.Fatal("deck top did not end when its context did")
	}
	text := out.String()
	assert.True(t, strings.HasPrefix(text, ansiRedraw), "each frame starts with cursor home + clear")
	assert.NotContains(t, strings.ReplaceAll(text, ansiRedraw, ""), "\x1b[", "--no-color: no colour")
	assert.Contains(t, text, "every 50ms (Ctrl-C to quit)")
}
