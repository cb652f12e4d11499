package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// topDoc is what the test reads of deck top -o json.
type topDoc struct {
	Tasks []struct {
		Service          string   `json:"service"`
		ID               string   `json:"id"`
		Host             string   `json:"host"`
		Healthy          bool     `json:"healthy"`
		Health           string   `json:"health"`
		VCPUs            *float64 `json:"vcpus"`
		MemoryBytes      uint64   `json:"memory_bytes"`
		MemoryLimitBytes uint64   `json:"memory_limit_bytes"`
		Requests         *int     `json:"requests_in_flight"`
		Error            string   `json:"error"`
	} `json:"tasks"`
	Hosts []struct {
		Name                string `json:"name"`
		Reachable           bool   `json:"reachable"`
		Tasks               int    `json:"tasks"`
		MemoryBytes         uint64 `json:"memory_bytes"`
		MemoryCapacityBytes uint64 `json:"memory_capacity_bytes"`
	} `json:"hosts"`
}

// TestTop reads the live stats of hello's 3 tasks on the 3 real hosts (h3 over ssh):
// each task is there with its memory (Podman's reading, under its 32 MiB limit), a CPU
// rate and its health; off a terminal deck top prints one snapshot and exits 0.
func TestTop(t *testing.T) {
	hosts := startHosts(t)
	a := newApp(t, "hello", hosts)
	a.write("deck/hello.yaml", execManifest)
	r := a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())
	st := a.status()
	require.Len(t, st.Services, 1)
	var want []string
	for _, task := range st.Services[0].Tasks {
		want = append(want, task.Host+"/"+task.ID)
	}
	require.Len(t, want, 3)

	r = a.deck("top", "--once", "-o", "json")
	require.Equal(t, 0, r.Code, r.String())
	assert.Equal(t, 1, strings.Count(r.Stdout, "\n"), "one document, one line: %s", r.Stdout)
	var top topDoc
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &top), r.Stdout)
	var got []string
	for _, task := range top.Tasks {
		got = append(got, task.Host+"/"+task.ID)
		assert.Equal(t, "hello", task.Service)
		assert.Empty(t, task.Error, task.ID)
		assert.Greater(t, task.MemoryBytes, uint64(0), "%s uses memory", task.ID)
		assert.Equal(t, uint64(32<<20), task.MemoryLimitBytes, "%s: its memory: 32 limit", task.ID)
		assert.Less(t, task.MemoryBytes, task.MemoryLimitBytes, task.ID)
		assert.NotNil(t, task.VCPUs, "%s: two readings give a CPU rate", task.ID)
		assert.True(t, task.Healthy, "%s: %s", task.ID, task.Health)
		assert.True(t, strings.HasPrefix(task.Health, "healthy"), task.Health)
	}
	sort.Strings(want)
	sort.Strings(got)
	assert.Equal(t, want, got, "deck top shows the tasks deck status does")
	require.Len(t, top.Hosts, 3)
	for _, h := range top.Hosts {
		assert.True(t, h.Reachable, h.Name)
		assert.Equal(t, 1, h.Tasks, "one task a host: %s", h.Name)
		assert.Greater(t, h.MemoryBytes, uint64(0), h.Name)
		assert.Greater(t, h.MemoryCapacityBytes, h.MemoryBytes, h.Name)
	}

	r = a.deck("top") // off a terminal: one snapshot, not a loop
	require.Equal(t, 0, r.Code, r.String())
	assert.Equal(t, 1, strings.Count(r.Stdout, "App hello, environment test"), r.Stdout)
	assert.NotContains(t, r.Stdout, "\x1b[", "no redraw nor colour off a terminal")
	for _, id := range want {
		assert.Contains(t, r.Stdout, id[strings.Index(id, "/")+1:])
	}
}

// TestTopCountsRequestsInFlightThroughCaddy: hello's 3 tasks behind the test hosts' Caddy;
// with N slow requests held in flight through it, deck top's requests in flight (Caddy's
// num_requests per upstream) sum to N over the tasks; once the requests are answered, every
// task shows 0 again.
func TestTopCountsRequestsInFlightThroughCaddy(t *testing.T) {
	hosts := startHosts(t)
	a := newApp(t, "hello", hosts)
	m := strings.Replace(lbHello("top", "0s", ""), "count: 6", "count: 3", 1)
	require.Contains(t, m, "count: 3")
	a.write("deck/hello.yaml", m)
	r := a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())

	// inFlight is what deck top says: the sum of the tasks' requests in flight, and how
	// many tasks have a count (routed through a balancer).
	inFlight := func() (sum, routed int) {
		t.Helper()
		r := a.deck("top", "--once", "-o", "json")
		require.Equal(t, 0, r.Code, r.String())
		var top topDoc
		require.NoError(t, json.Unmarshal([]byte(r.Stdout), &top), r.Stdout)
		for _, task := range top.Tasks {
			if task.Requests != nil {
				sum += *task.Requests
				routed++
			}
		}
		return sum, routed
	}
	sum, routed := inFlight()
	require.Equal(t, 3, routed, "the balancer routes to the 3 tasks")
	require.Zero(t, sum, "no request in flight yet")

	const n = 5
	const hold = 20 * time.Second
	type answer struct {
		code int
		body string
		err  error
	}
	answers := make(chan answer, n)
	url := fmt.Sprintf("http://%s/slow?d=%s", hosts.LB.Listen, hold)
	start := time.Now()
	for range n {
		go func() {
			// A client of its own per request: each request holds its own connection.
			c := &http.Client{Timeout: hold + 30*time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			resp, err := c.Get(url)
			if err != nil {
				answers <- answer{err: err}
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			answers <- answer{code: resp.StatusCode, body: string(b), err: err}
		}()
	}
	waitFor(t, hold-2*time.Second, func() bool { sum, _ = inFlight(); return sum == n })
	t.Logf("deck top counted %d requests in flight %s after they were sent", n, time.Since(start).Round(100*time.Millisecond))

	for range n {
		ans := <-answers
		require.NoError(t, ans.err)
		assert.Equal(t, 200, ans.code, ans.body)
		assert.Contains(t, ans.body, "top from task", "answered by hello, through Caddy")
	}
	assert.GreaterOrEqual(t, time.Since(start), hold, "the requests were held")
	waitFor(t, 30*time.Second, func() bool { sum, _ = inFlight(); return sum == 0 })
	_, routed = inFlight()
	assert.Equal(t, 3, routed, "the tasks are still routed, with none in flight")
}
