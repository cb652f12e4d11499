package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/cmd/internal/iostreams"
)

// consoleHarness is the console's backend on the harness's fake hosts.
func (h *harness) console() *consoleBackend {
	ios, _, _, _ := iostreams.Test()
	deps := Deps{IO: ios, Dialer: h.cloud, LookupEnv: func(k string) (string, bool) {
		v, ok := h.env[k]
		return v, ok
	}}
	g := &Globals{File: filepath.Join(h.dir, "deck.yaml"), Env: "test", Output: "table", HostTimeout: 5 * time.Second}
	return &consoleBackend{deps: deps, g: g, envs: []string{"test"}, env: "test"}
}

// TestConsoleBackendReadsWhatTheCommandsRead: the page's plan, status, history and events
// are the commands', and its Deploy and Rollback buttons deploy and roll back as they do.
func TestConsoleBackendReadsWhatTheCommandsRead(t *testing.T) {
	h := newHarness(t)
	b := h.console()
	ctx := context.Background()

	text, changes, err := b.Plan(ctx, "test")
	require.NoError(t, err)
	assert.True(t, changes)
	assert.Contains(t, text, "Plan: 3 to create, 0 to replace, 0 to destroy.")
	assert.NotContains(t, text, "\x1b[", "no colour on the page")

	var out bytes.Buffer
	require.NoError(t, b.Deploy(ctx, "test", &out))
	assert.Contains(t, out.String(), "✓ api: 3 started, 0 stopped")
	assert.Equal(t, 3, h.tasks())

	st, err := b.Status(ctx, "test")
	require.NoError(t, err)
	require.Len(t, st.Services, 1)
	api := st.Services[0]
	assert.Equal(t, "api", api.Name)
	require.NotNil(t, api.Desired)
	assert.Equal(t, 3, *api.Desired)
	assert.Equal(t, 3, api.Running)
	require.Len(t, api.Tasks, 3)
	hosts := map[string]int{}
	for _, task := range api.Tasks {
		hosts[task.Host]++
		assert.Equal(t, "running", task.State)
	}
	assert.Len(t, hosts, 2, "spread over both hosts")
	require.Len(t, st.Hosts, 2)
	assert.Equal(t, int64(3*256), st.Hosts[0].CPUUsed+st.Hosts[1].CPUUsed)
	assert.Equal(t, int64(2*2048-3*256), st.Hosts[0].CPUFree+st.Hosts[1].CPUFree)

	_, changes, err = b.Plan(ctx, "test")
	require.NoError(t, err)
	assert.False(t, changes)

	revs, err := b.History(ctx, "test")
	require.NoError(t, err)
	require.Len(t, revs, 1)
	assert.Equal(t, "completed", revs[0].Outcome)
	assert.Equal(t, 1, revs[0].Number)

	evs, err := b.Events(ctx, "test", time.Time{})
	require.NoError(t, err)
	var msgs []string
	for _, e := range evs {
		msgs = append(msgs, e.Message)
	}
	assert.Contains(t, strings.Join(msgs, "\n"), "(service api) deployment of revision 1 completed.")

	h.write("deck/api.yaml", strings.Replace(strings.Replace(apiManifest, "COUNT", "3", 1), "fast", "slow", 1))
	out.Reset()
	require.NoError(t, b.Deploy(ctx, "test", &out), out.String())
	out.Reset()
	require.NoError(t, b.Rollback(ctx, "test", "api", &out), out.String())
	assert.Contains(t, out.String(), "api")
	revs, err = b.History(ctx, "test")
	require.NoError(t, err)
	require.Len(t, revs, 3)
	assert.Equal(t, "rollback", revs[0].Kind)
	assert.Equal(t, "completed", revs[0].Outcome)
	r, err := collectHistoryFor(t, h, "api")
	require.NoError(t, err)
	assert.Equal(t, "deck console (deck rollback api)", r.Revisions[0].Trigger)
	assert.Equal(t, "deck console (deck deploy)", r.Revisions[1].Trigger)
}

func collectHistoryFor(t *testing.T, h *harness, service string) (*HistoryReport, error) {
	t.Helper()
	b := h.console()
	s, err := b.connect(context.Background(), "test")
	require.NoError(t, err)
	defer s.Close()
	store, err := historyStore(s)
	require.NoError(t, err)
	return collectHistory(context.Background(), store, service)
}

// A broken manifest is shown on the page as deck prints it, not as "exit status 1".
func TestConsoleBackendShowsManifestErrors(t *testing.T) {
	h := newHarness(t)
	h.write("deck/api.yaml", strings.Replace(apiManifest, "memory: 128", "memroy: 128", 1))
	_, _, err := h.console().Plan(context.Background(), "test")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `did you mean "memory"`)
	assert.NotContains(t, err.Error(), "exit status")
}

// TestConsoleJSONPrintsTheURL: with -o json, deck console prints one object with the URL
// (token included) once it listens, and that URL opens the page.
func TestConsoleJSONPrintsTheURL(t *testing.T) {
	h := newHarness(t)
	pr, pw := io.Pipe()
	ios, _, _, _ := iostreams.Test()
	ios.Out = pw
	deps := Deps{IO: ios, Dialer: h.cloud, LookupEnv: func(k string) (string, bool) {
		v, ok := h.env[k]
		return v, ok
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"--file", filepath.Join(h.dir, "deck.yaml"), "--config", filepath.Join(h.dir, "config.yaml"),
			"console", "-o", "json"}, deps)
		_ = pw.Close()
	}()
	var raw json.RawMessage
	require.NoError(t, json.NewDecoder(pr).Decode(&raw))
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	var got ConsoleJSON
	require.NoError(t, json.Unmarshal(raw, &got))
	token := got.URL[strings.LastIndex(got.URL, "=")+1:]
	goldenJSON(t, "console.json", string(raw)+"\n", false, got.Listen, "127.0.0.1:PORT", token, "TOKEN")
	assert.Equal(t, "test", got.Env)
	assert.False(t, got.AllowDeploy)
	assert.True(t, strings.HasPrefix(got.URL, "http://"+got.Listen+"/?token="), got.URL)
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	resp, err := (&http.Client{Jar: jar}).Get(got.URL) // the token moves to a cookie
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the URL opens the page")
	cancel()
	select {
	case code := <-done:
		assert.Equal(t, 0, code, "Ctrl-C ends the console")
	case <-time.After(10 * time.Second):
		t.Fatal("the console did not stop")
	}
}
