package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func get(t *testing.T, h http.Handler, target string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	return rec.Code, rec.Body.String()
}

func TestHandler(t *testing.T) {
	c, err := configFromEnv(env(map[string]string{"GREETING": "hi", "DECK_TASK_ID": "t1", "DECK_HOST": "h1",
		"DECK_SERVICE": "web", "DECK_REVISION": "3"}))
	require.NoError(t, err)
	h := c.handler()
	const hello = "hi from task t1 on host h1 (service web, revision 3)\n"
	for _, tc := range []struct {
		target string
		code   int
		body   string
	}{
		{"/", 200, hello},
		{"/slow?d=1ms", 200, hello},
		{"/slow?d=-1s", 400, "want /slow?d=2s\n"},
		{"/slow", 400, "want /slow?d=2s\n"},
		{"/burn?ms=1", 200, hello},
		{"/burn?ms=-1", 400, "want /burn?ms=50\n"},
		{"/burn", 400, "want /burn?ms=50\n"},
		{"/healthz", 200, "ok\n"},
		{"/other", 404, "404 page not found\n"},
	} {
		code, body := get(t, h, tc.target)
		assert.Equal(t, tc.code, code, tc.target)
		assert.Equal(t, tc.body, body, tc.target)
	}
}

func TestBurnUsesTheCPUItWasAskedFor(t *testing.T) {
	c, err := configFromEnv(env(nil))
	require.NoError(t, err)
	before := cpuTime(t)
	start := time.Now()
	code, _ := get(t, c.handler(), "/burn?ms=200")
	require.Equal(t, 200, code)
	assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
	// CPU time, not a sleep (a sleep uses next to none): on a shared machine under load
	// the process may get only a share of the 200ms.
	assert.Greater(t, cpuTime(t)-before, 20*time.Millisecond)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := httptest.NewRecorder()
	start = time.Now()
	c.handler().ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "/burn?ms=5000", nil))
	assert.Less(t, time.Since(start), time.Second, "a client that went away ends the work")
	assert.Empty(t, rec.Body.String())
}

// cpuTime is the CPU time the test process has used.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestSlowEndsWhenTheClientGoesAway(t *testing.T) {
	c, err := configFromEnv(env(nil))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := httptest.NewRecorder()
	c.handler().ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "/slow?d=1h", nil))
	assert.Empty(t, rec.Body.String())
}

func TestHealth(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		code int
	}{
		{map[string]string{"HEALTH_STATUS": "500"}, 500},
		{map[string]string{"HEALTH_STATUS": "200", "READY_AFTER": "never"}, 200},
		{map[string]string{"READY_AFTER": "never"}, 503},
		{map[string]string{"READY_AFTER": "1h"}, 503},
		{map[string]string{"READY_AFTER": "0s"}, 200},
		{map[string]string{"READY_AFTER": "soon"}, 200}, // ignored, as it always was
	} {
		c, err := configFromEnv(env(tc.env))
		require.NoError(t, err)
		code, _ := get(t, c.handler(), "/healthz")
		assert.Equal(t, tc.code, code, "%v", tc.env)
	}
}

// The switch that makes a running task's health check fail, and pass again.
func TestToggleSickFailsHealthAndBack(t *testing.T) {
	c, err := configFromEnv(env(nil))
	require.NoError(t, err)
	h := c.handler()
	code, _ := get(t, h, "/healthz")
	require.Equal(t, 200, code)
	assert.Equal(t, 500, c.toggleSick())
	code, body := get(t, h, "/healthz")
	assert.Equal(t, 500, code)
	assert.Equal(t, "made unhealthy by SIGUSR1\n", body)
	code, _ = get(t, h, "/")
	assert.Equal(t, 200, code, "only the health check fails")
	assert.Equal(t, 200, c.toggleSick())
	code, _ = get(t, h, "/healthz")
	assert.Equal(t, 200, code)
}

func TestBadEnv(t *testing.T) {
	for _, tc := range []struct{ k, v, want string }{
		{"HEALTH_STATUS", "oops", `HEALTH_STATUS="oops" is not an HTTP status from 200 to 599`},
		{"HEALTH_STATUS", "99", `HEALTH_STATUS="99" is not an HTTP status from 200 to 599`},
		{"SHUTDOWN_TIMEOUT", "1", `SHUTDOWN_TIMEOUT="1" is not a duration such as 30s`},
	} {
		_, err := configFromEnv(env(map[string]string{tc.k: tc.v}))
		assert.EqualError(t, err, tc.want)
	}
	c, err := configFromEnv(env(map[string]string{"SHUTDOWN_TIMEOUT": "90s"}))
	require.NoError(t, err)
	assert.Equal(t, 90*time.Second, c.shutdownTimeout)
}

// TestServeFinishesRequestsInHand: after the signal, serve stops taking connections but
// returns only once the request in hand has its answer.
func TestServeFinishesRequestsInHand(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "done\n")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- serve(ctx, ln, h, time.Minute) }()

	answered := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			answered <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		answered <- string(b)
	}()
	<-started
	stop()
	require.Eventually(t, func() bool { // shutting down: no new connections
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			conn.Close()
		}
		return err != nil
	}, 10*time.Second, time.Millisecond)
	select {
	case err := <-served:
		t.Fatalf("serve returned with a request in hand: %v", err)
	default:
	}
	close(release)
	assert.Equal(t, "done\n", <-answered)
	assert.NoError(t, <-served)
}

func TestServeGivesUpAfterTheTimeout(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { close(started); <-release })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- serve(ctx, ln, h, time.Millisecond) }()
	go func() {
		if resp, err := http.Get("http://" + ln.Addr().String() + "/"); err == nil {
			resp.Body.Close()
		}
	}()
	<-started
	stop()
	assert.ErrorContains(t, <-served, "requests still in hand after 1ms")
}
