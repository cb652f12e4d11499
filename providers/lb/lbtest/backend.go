package lbtest

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// SlowPath is the path a Backend holds open until Release.
const SlowPath = "/slow"

// Backend is an HTTP server a real balancer routes to. It answers every request with its
// own address as the body, so a test sees which backend a request reached, and it records
// the Host header each request carried.
type Backend struct {
	Addr string

	srv     *http.Server
	arrived chan struct{} // one value per request to SlowPath that has arrived
	release chan struct{}
	once    sync.Once

	mu    sync.Mutex
	hits  int
	hosts []string
}

// StartBackend serves on ln until the test ends.
func StartBackend(t *testing.T, ln net.Listener) *Backend {
	t.Helper()
	b := &Backend{Addr: ln.Addr().String(), arrived: make(chan struct{}, 16), release: make(chan struct{})}
	b.srv = &http.Server{Handler: http.HandlerFunc(b.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = b.srv.Serve(ln) }()
	t.Cleanup(func() {
		b.Release()
		_ = b.srv.Close()
	})
	return b
}

func (b *Backend) serve(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	b.hits++
	b.hosts = append(b.hosts, r.Host)
	b.mu.Unlock()
	if strings.HasSuffix(r.URL.Path, SlowPath) {
		b.arrived <- struct{}{}
		select {
		case <-b.release:
		case <-r.Context().Done():
			return
		}
	}
	_, _ = io.WriteString(w, b.Addr)
}

// Hits returns how many requests reached the backend.
func (b *Backend) Hits() int { b.mu.Lock(); defer b.mu.Unlock(); return b.hits }

// LastHost returns the Host header of the last request that reached the backend.
func (b *Backend) LastHost() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.hosts) == 0 {
		return ""
	}
	return b.hosts[len(b.hosts)-1]
}

// WaitSlow waits until a request to SlowPath has arrived.
func (b *Backend) WaitSlow(t *testing.T) {
	t.Helper()
	select {
	case <-b.arrived:
	case <-time.After(waitFor):
		t.Fatalf("no slow request reached %s within %v", b.Addr, waitFor)
	}
}

// Release lets every slow request (now and later) finish.
func (b *Backend) Release() { b.once.Do(func() { close(b.release) }) }

// Response is what the balancer answered.
type Response struct {
	Status  int
	Body    string
	Cookies []*http.Cookie
}

// get sends GET path with the Host header host (empty: the balancer's address) and the
// cookies through the balancer at base. Keep-alives are off: every admin write makes
// Caddy close idle client connections, and a test should not depend on client retries.
func get(ctx context.Context, base, path, host string, cookies ...*http.Cookie) (Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return Response{}, err
	}
	if host != "" {
		req.Host = host
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: waitFor}
	// No retry, not even of a reset: a balancer that resets a new connection when its
	// configuration changes drops that request for most clients (see the reloads check).
	resp, err := client.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Response{}, err
	}
	return Response{Status: resp.StatusCode, Body: string(body), Cookies: resp.Cookies()}, nil
}

// deadAddress returns an address on the listener's network where nothing listens.
func deadAddress(t *testing.T, listen func() (net.Listener, error)) string {
	t.Helper()
	ln, err := listen()
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, err = net.DialTimeout("tcp", addr, time.Second)
	require.ErrorIs(t, err, syscall.ECONNREFUSED, "nothing listens on %s any more", addr)
	return addr
}
