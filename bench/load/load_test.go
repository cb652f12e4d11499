package load

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// arrivals counts the requests a server got and closes reached once n have arrived, so
// that a test can wait for load instead of sleeping.
type arrivals struct {
	n       int64
	got     atomic.Int64
	reached chan struct{}
	once    sync.Once
}

func newArrivals(n int64) *arrivals { return &arrivals{n: n, reached: make(chan struct{})} }

func (a *arrivals) arrive() {
	if a.got.Add(1) >= a.n {
		a.once.Do(func() { close(a.reached) })
	}
}

func (a *arrivals) wait(t *testing.T) {
	t.Helper()
	select {
	case <-a.reached:
	case <-time.After(30 * time.Second):
		t.Fatalf("only %d of %d requests arrived in 30s", a.got.Load(), a.n)
	}
}

func TestCountsStatusesAndBodies(t *testing.T) {
	a := newArrivals(300)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.arrive()
		switch r.URL.Path {
		case "/fail":
			http.Error(w, "bad gateway", http.StatusBadGateway)
		default:
			fmt.Fprintf(w, "hello from task %s on host h1\nsecond line\n", r.URL.Query().Get("task"))
		}
	}))
	defer srv.Close()

	run := Start(context.Background(), Options{URL: srv.URL, Conns: 4, Path: func(i int) string {
		if i%3 == 0 {
			return "/fail"
		}
		return fmt.Sprintf("/?task=t%d", i%2)
	}})
	a.wait(t)
	res := run.Stop()

	require.Equal(t, res.Sent, res.OK+res.Failed, "every request sent is counted: %s", res)
	failures := (res.Sent + 2) / 3 // requests 0, 3, 6, ...
	assert.Equal(t, failures, res.Failed)
	assert.Equal(t, map[string]int{"status 502": failures}, res.Errors)
	assert.Equal(t, res.OK, res.ByBody["hello from task t0 on host h1"]+res.ByBody["hello from task t1 on host h1"])
	assert.Len(t, res.ByBody, 2)
	require.NotEmpty(t, res.FailedSamples)
	assert.Regexp(t, `^\d\d:\d\d:\d\d\.\d{3} GET /fail: status 502$`, res.FailedSamples[0])
	assert.LessOrEqual(t, len(res.FailedSamples), maxSamples)
	assert.Greater(t, res.Rate, 0.0)
	assert.Contains(t, res.String(), fmt.Sprintf("%d requests, %d failed, ", res.Sent, res.Failed))
}

func TestBodyKeysAreCapped(t *testing.T) {
	a := newArrivals(200)
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.arrive()
		fmt.Fprintf(w, "answer %d\n", n.Add(1))
	}))
	defer srv.Close()

	run := Start(context.Background(), Options{URL: srv.URL, Conns: 2})
	a.wait(t)
	res := run.Stop()

	assert.Len(t, res.ByBody, maxKeys+1)
	assert.Equal(t, res.OK-maxKeys, res.ByBody[otherKey])
}

// TestTransportErrors: a server that drops connections after reading the request makes
// requests fail with EOF; one that resets them, with "connection reset by peer". Neither
// is retried by the Transport, since the connections are new.
func TestTransportErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reset bool
		want  string
	}{
		{"closed", false, "EOF"},
		{"reset", true, "connection reset by peer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newArrivals(50)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				conn, _, err := http.NewResponseController(w).Hijack()
				if err != nil {
					return
				}
				if tc.reset {
					_ = conn.(*net.TCPConn).SetLinger(0) // close sends RST
				}
				_ = conn.Close()
				a.arrive()
			}))
			defer srv.Close()

			run := Start(context.Background(), Options{URL: srv.URL, Conns: 2})
			a.wait(t)
			res := run.Stop()

			assert.Zero(t, res.OK)
			assert.Equal(t, res.Sent, res.Failed)
			assert.Equal(t, map[string]int{tc.want: res.Failed}, res.Errors)
		})
	}
}

func TestRefusedAndTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refused := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())

	run := Start(context.Background(), Options{URL: refused, Rate: 100, Conns: 1})
	require.Eventually(t, func() bool { return run.Snapshot().Failed >= 3 }, 30*time.Second, time.Millisecond)
	res := run.Stop()
	assert.Equal(t, map[string]int{"connection refused": res.Failed}, res.Errors)

	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer srv.Close()
	defer close(release)
	run = Start(context.Background(), Options{URL: srv.URL, Rate: 100, Conns: 1, Timeout: 50 * time.Millisecond})
	require.Eventually(t, func() bool { return run.Snapshot().Failed >= 3 }, 30*time.Second, time.Millisecond)
	res = run.Stop()
	assert.Equal(t, map[string]int{"timeout": res.Failed}, res.Errors)
	assert.GreaterOrEqual(t, res.P50, 50*time.Millisecond)
}

// TestOpenLoopKeepsSending: with the server stuck, requests keep being sent at the rate
// asked (they wait for a connection), and every one of them is counted once it answers.
func TestOpenLoopKeepsSending(t *testing.T) {
	release := make(chan struct{})
	a := newArrivals(2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.arrive()
		<-release
		fmt.Fprintln(w, "late")
	}))
	defer srv.Close()

	run := Start(context.Background(), Options{URL: srv.URL, Rate: 200, Conns: 2})
	a.wait(t) // both connections are busy
	require.Eventually(t, func() bool { return run.Snapshot().Sent >= 40 }, 30*time.Second, time.Millisecond)
	snap := run.Snapshot()
	assert.Zero(t, snap.OK+snap.Failed, "the server has answered nothing yet")
	close(release)
	res := run.Stop()

	assert.GreaterOrEqual(t, res.Sent, 40)
	assert.Equal(t, res.Sent, res.OK)
	assert.Equal(t, map[string]int{"late": res.OK}, res.ByBody)
	// The first two waited in the server; the others waited for a connection.
	assert.Equal(t, res.Max, res.Slowest[0].Latency)
	assert.Equal(t, "status 200", res.Slowest[0].Outcome)
}

// TestRateAndLatencies: a server that answers most requests at once and every tenth after
// 20ms gives p50 below 20ms and p99 at or above it; the rate achieved is near the rate
// asked. Bounds are wide: this runs on busy machines.
func TestRateAndLatencies(t *testing.T) {
	const delay = 20 * time.Millisecond
	a := newArrivals(150)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.arrive()
		if r.URL.Path == "/slow" {
			time.Sleep(delay) // the latency under test
		}
		fmt.Fprintln(w, "ok")
	}))
	defer srv.Close()

	run := Start(context.Background(), Options{URL: srv.URL + "/ignored", Rate: 300, Conns: 8, Path: func(i int) string {
		if i%10 == 9 {
			return "/slow"
		}
		return "/fast"
	}})
	a.wait(t)
	res := run.Stop()

	require.Equal(t, res.Sent, res.OK, "%s: %v", res, res.Errors)
	assert.True(t, res.P50 <= res.P90 && res.P90 <= res.P99 && res.P99 <= res.Max, "ordered: %s", res)
	assert.Less(t, res.P50, delay)
	assert.GreaterOrEqual(t, res.P99, delay)
	assert.Less(t, res.Max, delay+5*time.Second)
	assert.InDelta(t, 300, res.Rate, 250, "rate %s", res)
	for _, s := range res.Slowest[:min(len(res.Slowest), res.Sent/10)] {
		assert.Equal(t, "/slow", s.Path)
		assert.GreaterOrEqual(t, s.Latency, delay)
	}
}

func TestContextEndsSending(t *testing.T) {
	a := newArrivals(20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { a.arrive() }))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	run := Start(ctx, Options{URL: srv.URL, Host: "app.example"})
	a.wait(t)
	cancel()
	res := run.Stop()
	assert.Equal(t, res.Sent, res.OK)
	assert.Equal(t, res, run.Snapshot(), "nothing more is sent once ctx ends")
}

func TestHostHeader(t *testing.T) {
	hosts := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case hosts <- r.Host:
		default:
		}
	}))
	defer srv.Close()
	run := Start(context.Background(), Options{URL: srv.URL, Host: "app.example", Conns: 1})
	assert.Equal(t, "app.example", <-hosts)
	run.Stop()
}

func TestErrorKind(t *testing.T) {
	wrapped := &url.Error{Op: "Get", URL: "http://10.0.0.1:8080/", Err: errors.New("dial tcp 10.0.0.1:8080: connect: no route to host")}
	assert.Equal(t, "dial tcp ADDR: connect: no route to host", errorKind(wrapped))
	for _, tc := range []struct{ err, want string }{
		{`read tcp 127.0.0.1:5678->127.0.0.1:80: weird`, "read tcp ADDR: weird"},
		{`dial tcp [::1]:80: something`, "dial tcp ADDR: something"},
	} {
		assert.Equal(t, tc.want, errorKind(fmt.Errorf("%s", tc.err)))
	}
	assert.Equal(t, strings.Repeat("x", maxKeyLen), errorKind(fmt.Errorf("%s", strings.Repeat("x", 300))))
}

func TestShort(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0ns", 850 * time.Microsecond: "850µs", 1100 * time.Microsecond: "1.1ms", 9 * time.Millisecond: "9ms",
		42 * time.Millisecond: "42ms", 2500 * time.Millisecond: "2.5s", 1500 * time.Nanosecond: "1.5µs",
	} {
		assert.Equal(t, want, short(d))
	}
}

// TestTransportRetriesOnReusedConnection: a server that answers the first request on each
// connection and closes the connection on reading the second (as a proxy does when it
// reloads while a connection sits idle) causes no failures: the Transport sends those
// requests again on new connections, as real clients do.
func TestTransportRetriesOnReusedConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	a := newArrivals(20) // connections closed under a request
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				rd := bufio.NewReader(conn)
				req, err := http.ReadRequest(rd)
				if err != nil {
					return
				}
				_ = req.Body.Close()
				_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
				if _, err := http.ReadRequest(rd); err == nil {
					a.arrive()
				}
			}()
		}
	}()

	run := Start(context.Background(), Options{URL: "http://" + ln.Addr().String(), Conns: 1})
	a.wait(t)
	res := run.Stop()
	assert.Zero(t, res.Failed, "%v", res.Errors)
	assert.Equal(t, res.Sent, res.OK)
}

// With NewConnections every request arrives on a connection of its own; without, a few
// keep-alive connections carry them all.
func TestNewConnections(t *testing.T) {
	for _, fresh := range []bool{false, true} {
		var conns atomic.Int64
		arrived := newArrivals(50)
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { arrived.arrive() }))
		srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		}
		srv.Start()
		run := Start(context.Background(), Options{URL: srv.URL, Conns: 2, NewConnections: fresh})
		arrived.wait(t)
		res := run.Stop()
		srv.Close()
		assert.Zero(t, res.Failed, "%v", res.Errors)
		if fresh {
			assert.GreaterOrEqual(t, conns.Load(), int64(res.OK), "one connection per request")
		} else {
			assert.LessOrEqual(t, conns.Load(), int64(2), "the keep-alive connections carry every request")
		}
	}
}
