package console

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeBackend serves a fixed environment and records what it was asked to do.
type fakeBackend struct {
	mu       sync.Mutex
	status   *Status
	deploys  []string
	rollback []string
	release  chan struct{} // a deploy waits for it (nil: returns at once)
}

func newFake() *fakeBackend {
	three := 3
	return &fakeBackend{status: &Status{App: "shop", Env: "staging",
		Services: []Service{{Name: "web", Type: "Load Balanced Web Service", Desired: &three, Running: 3, Healthy: 2,
			Revisions: []string{"r2"}, Endpoints: []string{"10.0.0.1:8080"},
			Tasks: []Task{
				{ID: "web-1", Host: "h1", State: "running", Healthy: true, Health: "healthy", Revision: "r2", Endpoint: "10.0.0.1:8080"},
				{ID: "web-2", Host: "h2", State: "exited", Health: "unhealthy: exited", Revision: "r2"},
			}}},
		Hosts: []Host{{Name: "h1", Reachable: true, Version: "4.3.1", CPUUsed: 256, CPUFree: 768, MemUsed: 64, MemFree: 960, Tasks: 1},
			{Name: "h2", Reachable: false, Error: "dial tcp: refused"}}}}
}

func (f *fakeBackend) Environments() ([]string, string) {
	return []string{"prod", "staging"}, "staging"
}
func (f *fakeBackend) Status(context.Context, string) (*Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := *f.status
	return &st, nil
}
func (f *fakeBackend) Plan(context.Context, string) (string, bool, error) {
	return "web: replace 3 tasks <r3>", true, nil
}
func (f *fakeBackend) History(context.Context, string) ([]Revision, error) {
	return []Revision{{Service: "web", Number: 2, Kind: "deploy", Outcome: "completed", Who: "ann"}}, nil
}
func (f *fakeBackend) Events(_ context.Context, _ string, since time.Time) ([]Event, error) {
	e := Event{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Service: "web", Message: "(service web) has reached a steady state."}
	if e.Time.After(since) {
		return []Event{e}, nil
	}
	return nil, nil
}
func (f *fakeBackend) Logs(context.Context, string, []string, int) (map[string][]LogLine, error) {
	return map[string][]LogLine{"web": {{Task: "web-1", Host: "h1", Line: "GET / 200 <script>"}}}, nil
}
func (f *fakeBackend) Deploy(_ context.Context, env string, out io.Writer) error {
	f.mu.Lock()
	f.deploys = append(f.deploys, env)
	rel := f.release
	f.mu.Unlock()
	io.WriteString(out, "Apply this plan?\n")
	if rel != nil {
		<-rel
	}
	return errors.New("boom")
}
func (f *fakeBackend) Rollback(_ context.Context, env, service string, _ io.Writer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rollback = append(f.rollback, env+"/"+service)
	return nil
}

func start(t *testing.T, o Options) (*Server, *httptest.Server) {
	t.Helper()
	srv, err := New(o)
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return srv, ts
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func TestTokenIsRequiredAndMovesToACookie(t *testing.T) {
	srv, ts := start(t, Options{Backend: newFake()})
	c := &http.Client{CheckRedirect: noRedirects}
	for _, path := range []string{"/", "/stream", "/static/console.js", "/?token=wrong", "/?token=" + srv.Token() + "x"} {
		resp, err := c.Get(ts.URL + path)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, path)
		assert.Equal(t, CSP, resp.Header.Get("Content-Security-Policy"), path)
		assert.NotContains(t, string(body), srv.Token(), path)
	}
	// A wrong cookie is no better.
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/", nil)
	req.AddCookie(&http.Cookie{Name: CookieName, Value: "nope"})
	resp, err := c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	resp, err = c.Get(srv.URL(strings.TrimPrefix(ts.URL, "http://")) + "&env=prod")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "/?env=prod", resp.Header.Get("Location"), "the token leaves the address bar")
	cookies := resp.Cookies()
	require.Len(t, cookies, 1)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(ts.URL, "http://"))
	assert.Equal(t, CookieName+"_"+port, cookies[0].Name, "one cookie per console: browsers share cookies across ports")
	assert.Equal(t, srv.Token(), cookies[0].Value)
	assert.True(t, cookies[0].HttpOnly)
	assert.Equal(t, http.SameSiteStrictMode, cookies[0].SameSite)

	req, _ = http.NewRequest(http.MethodGet, ts.URL+"/?env=prod", nil)
	req.AddCookie(cookies[0])
	resp, err = c.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, CSP, resp.Header.Get("Content-Security-Policy"))
	assert.NotContains(t, string(body), srv.Token(), "the page never carries the token")
}

// login returns a client holding the cookie, as a browser that opened the printed URL.
func login(t *testing.T, srv *Server, ts *httptest.Server) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(srv.URL(strings.TrimPrefix(ts.URL, "http://")))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return c
}

func TestPageShowsStatusEscaped(t *testing.T) {
	srv, ts := start(t, Options{Backend: newFake()})
	c := login(t, srv, ts)
	resp, err := c.Get(ts.URL + "/")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(b)
	for _, want := range []string{`data-service="web"`, `data-task="web-1" data-state="running"`, `data-task="web-2" data-state="exited"`,
		"10.0.0.1:8080", "no: dial tcp: refused", `<a href="/?env=prod">prod</a>`, `aria-current="page" class="current">staging`} {
		assert.Contains(t, page, want)
	}
	assert.NotContains(t, page, `action="/deploy"`, "read-only: no deploy button")
	assert.NotContains(t, page, "<script>alert")
	assert.NotContains(t, page, "http://", "nothing refers to another origin")
	assert.NotContains(t, page, "https://")

	resp, err = c.Get(ts.URL + "/?env=nope")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// TestStreamSendsSections reads the stream as the page's EventSource does.
func TestStreamSendsSections(t *testing.T) {
	srv, ts := start(t, Options{Backend: newFake(), Refresh: 50 * time.Millisecond})
	c := login(t, srv, ts)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/stream?env=staging", nil)
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	want := map[string]string{"services": `data-service="web"`, "tasks": `data-task="web-2"`, "hosts": `data-host="h2"`,
		"plan": "web: replace 3 tasks &lt;r3&gt;", "history": "ann", "events": "has reached a steady state",
		"logs": "GET / 200 &lt;script&gt;"}
	// Sections come first as they are ("Reading…"), then again once read: read until each
	// shows what it should, or the stream ends (the context's deadline).
	got := map[string]string{}
	all := func() bool {
		for id, w := range want {
			if !strings.Contains(got[id], w) {
				return false
			}
		}
		return true
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for !all() && sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var m struct{ ID, HTML string }
		require.NoError(t, json.Unmarshal([]byte(data), &m))
		got[m.ID] = m.HTML
	}
	for id, w := range want {
		assert.Contains(t, got[id], w, id)
	}
	assert.NotContains(t, got["logs"], "<script>", "log lines are escaped")
	assert.NotContains(t, got, "operation", "no deploy ran: no operation section")
}

func TestDeployNeedsAllowSameOriginAndTheFormsCheck(t *testing.T) {
	fake := newFake()
	fake.release = make(chan struct{})
	srv, ts := start(t, Options{Backend: fake})
	c := login(t, srv, ts)
	c.CheckRedirect = noRedirects
	site := "" // Sec-Fetch-Site, as a browser sends it
	post := func(s *Server, path string, form url.Values, origin string) int {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if site != "" {
			req.Header.Set("Sec-Fetch-Site", site)
		}
		resp, err := c.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	good := url.Values{"csrf": {srv.csrf}, "env": {"staging"}}
	assert.Equal(t, http.StatusForbidden, post(srv, "/deploy", good, ts.URL), "read-only without AllowDeploy")

	srv.opts.AllowDeploy = true
	assert.Equal(t, http.StatusForbidden, post(srv, "/deploy", good, "http://evil.example"), "another origin")
	assert.Equal(t, http.StatusForbidden, post(srv, "/deploy", good, ""), "no origin")
	site = "cross-site"
	assert.Equal(t, http.StatusForbidden, post(srv, "/deploy", good, ts.URL), "a browser says it comes from another site")
	site = "same-site"
	assert.Equal(t, http.StatusForbidden, post(srv, "/deploy", good, ts.URL), "another port of the same host is another origin")
	site = ""
	assert.Equal(t, http.StatusForbidden, post(srv, "/deploy", url.Values{"csrf": {"x"}, "env": {"staging"}}, ts.URL), "wrong check value")
	assert.Equal(t, http.StatusNotFound, post(srv, "/deploy", url.Values{"csrf": {srv.csrf}, "env": {"nope"}}, ts.URL))
	fake.mu.Lock()
	assert.Empty(t, fake.deploys, "nothing refused ran")
	fake.mu.Unlock()

	assert.Equal(t, http.StatusSeeOther, post(srv, "/deploy", good, ts.URL))
	assert.Equal(t, http.StatusConflict, post(srv, "/rollback", url.Values{"csrf": {srv.csrf}, "env": {"staging"}, "service": {"web"}}, ts.URL),
		"one run at a time")
	op := srv.ops.snapshot("staging")
	require.NotNil(t, op)
	assert.Equal(t, "deck deploy", op.What)
	assert.False(t, op.Done)
	close(fake.release)
	require.Eventually(t, func() bool { return srv.ops.snapshot("staging").Done }, 5*time.Second, 10*time.Millisecond)
	op = srv.ops.snapshot("staging")
	assert.Equal(t, "boom", op.Err)
	assert.Equal(t, "Apply this plan?\n", op.Output)

	// A browser under a no-referrer policy sends Origin: null; Sec-Fetch-Site still says.
	site = "same-origin"
	assert.Equal(t, http.StatusSeeOther, post(srv, "/rollback", url.Values{"csrf": {srv.csrf}, "env": {"prod"}, "service": {"web"}}, "null"))
	require.Eventually(t, func() bool { op := srv.ops.snapshot("prod"); return op != nil && op.Done }, 5*time.Second, 10*time.Millisecond)
	fake.mu.Lock()
	assert.Equal(t, []string{"staging"}, fake.deploys)
	assert.Equal(t, []string{"prod/web"}, fake.rollback)
	fake.mu.Unlock()

	resp, err := c.Get(ts.URL + "/")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(b), `action="/deploy"`)
	assert.Contains(t, string(b), `class="rollback"`)
	assert.NotContains(t, string(b), srv.Token())
}

// blockingBackend's deploy runs until its context ends.
type blockingBackend struct {
	*fakeBackend
	started chan struct{}
}

func (b blockingBackend) Deploy(ctx context.Context, _ string, out io.Writer) error {
	close(b.started)
	<-ctx.Done()
	io.WriteString(out, "Cancelled.\n")
	return ctx.Err()
}

// The console's end (Ctrl-C) stops a deploy started from the page, and Wait sees it end.
func TestEndingTheConsoleStopsItsDeploy(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	b := blockingBackend{fakeBackend: newFake(), started: make(chan struct{})}
	srv, err := New(Options{Backend: b, AllowDeploy: true, Context: ctx})
	require.NoError(t, err)
	assert.Empty(t, srv.Running())
	require.True(t, srv.ops.start("staging", "deck deploy", func(ctx context.Context, out io.Writer) error { return b.Deploy(ctx, "staging", out) }))
	<-b.started
	assert.Equal(t, "deck deploy (environment staging)", srv.Running())
	waited := make(chan struct{})
	go func() { srv.Wait(); close(waited) }()
	select {
	case <-waited:
		t.Fatal("Wait returned while the deploy ran")
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		t.Fatal("the deploy did not end when the console's context did")
	}
	op := srv.ops.snapshot("staging")
	assert.True(t, op.Done)
	assert.Equal(t, context.Canceled.Error(), op.Err)
	assert.Empty(t, srv.Running())
}

// seqBackend records the order of Status and Plan reads; from its third read on, the
// status shows a task that died.
type seqBackend struct {
	*fakeBackend
	mu     sync.Mutex
	calls  []string
	status int
	fifth  chan struct{} // closed at the fifth status read
}

func (b *seqBackend) Status(ctx context.Context, env string) (*Status, error) {
	b.mu.Lock()
	b.calls = append(b.calls, "status")
	b.status++
	n := b.status
	b.mu.Unlock()
	st, err := b.fakeBackend.Status(ctx, env)
	if n >= 3 {
		svc := st.Services[0]
		svc.Running--
		svc.Tasks = append([]Task{}, svc.Tasks...)
		svc.Tasks[0].State = "exited"
		st.Services = []Service{svc}
	}
	if n == 5 {
		close(b.fifth)
	}
	return st, err
}

func (b *seqBackend) Plan(ctx context.Context, env string) (string, bool, error) {
	b.mu.Lock()
	b.calls = append(b.calls, "plan")
	b.mu.Unlock()
	return b.fakeBackend.Plan(ctx, env)
}

func TestStreamReadsThePlanAgainWhenTheStatusChanges(t *testing.T) {
	b := &seqBackend{fakeBackend: newFake(), fifth: make(chan struct{})}
	srv, ts := start(t, Options{Backend: b, Refresh: 5 * time.Millisecond})
	c := login(t, srv, ts)
	b.mu.Lock()
	b.calls, b.status = nil, 0 // the page's own first render read the status
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/stream?env=staging", nil)
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	go func() { _, _ = io.Copy(io.Discard, resp.Body) }()
	select {
	case <-b.fifth:
	case <-ctx.Done():
		t.Fatal("the stream did not read the status five times")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	require.GreaterOrEqual(t, len(b.calls), 7)
	assert.Equal(t, []string{
		"status", "plan", // the first read: everything
		"status",         // nothing changed: no plan
		"status", "plan", // a task died: the plan at once, not at the fifth read
		"status", "status", // unchanged again
	}, b.calls[:7])
}
