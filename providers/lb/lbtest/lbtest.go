// Package lbtest is the conformance suite of lb.Balancer. The in-memory fake runs it in unit
// tests and real balancers (Caddy on the test hosts) run it with real traffic, so code
// tested against the fake can rely on what it does.
package lbtest

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/providers/lb"
)

// waitFor bounds every wait on a condition in the suite.
const waitFor = 10 * time.Second

// Harness is a balancer under test and what the suite needs around it.
type Harness struct {
	// Balancer is the balancer under test. Every check uses its own app names and removes
	// its routes, so one balancer serves the whole suite; other apps' routes may be there.
	Balancer lb.Balancer
	// Unreachable returns a balancer of the same kind whose admin API does not answer.
	Unreachable func(t *testing.T) lb.Balancer
	// Writes returns how many writes the balancer made so far (for Caddy, each one is a
	// reload). Nil: writes are not counted and the batching checks are left out.
	Writes func() int
	// SetInFlight sets the requests in flight at an address, for a fake balancer. Nil for
	// a real one, whose in-flight requests the suite makes with Traffic.
	SetInFlight func(addr string, n int)
	// Traffic sends real HTTP through the balancer. Nil for a fake, whose routing is then
	// checked through Routes only.
	Traffic *Traffic
}

// Traffic is how the suite reaches a real balancer and starts backends behind it.
type Traffic struct {
	// URL is the balancer's listener, as "http://host:port".
	URL string
	// Listen opens a listener for a backend at an address the balancer can reach.
	Listen func() (net.Listener, error)
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	s := &suite{h: h, b: h.Balancer}
	t.Run("round trip", s.roundTrip)
	t.Run("routing by prefix and host", s.routing)
	t.Run("put replaces targets", s.replaceTargets)
	t.Run("draining", s.draining)
	t.Run("withdrawn", s.withdrawn)
	t.Run("delete", s.delete)
	t.Run("other apps and environments untouched", s.isolation)
	t.Run("invalid route refused", s.invalid)
	if h.Writes != nil {
		t.Run("one write per change", s.writes)
	}
	if h.Traffic != nil {
		t.Run("sticky", s.sticky)
		t.Run("dead target retried", s.deadTarget)
		t.Run("reloads", s.reloads)
	}
	t.Run("unreachable", s.unreachable)
}

type suite struct {
	h Harness
	b lb.Balancer
	// port numbers addresses for a fake, which has no backends.
	port int
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return c
}

// put puts r and deletes its route when the test ends.
func (s *suite) put(t *testing.T, r lb.Route) {
	t.Helper()
	require.NoError(t, s.b.Put(ctx(t), r), "put %s", r.Key())
	t.Cleanup(func() {
		assert.NoError(t, s.b.Delete(context.Background(), r.App, r.Env, r.Service), "cleanup: delete %s", r.Key())
	})
}

func (s *suite) routes(t *testing.T, app, env string) map[string]lb.Route {
	t.Helper()
	got, err := s.b.Routes(ctx(t), app, env)
	require.NoError(t, err)
	return got
}

// backends starts n backends behind a real balancer, or numbers n addresses for a fake.
func (s *suite) backends(t *testing.T, n int) ([]string, []*Backend) {
	t.Helper()
	addrs := make([]string, n)
	var bs []*Backend
	for i := range addrs {
		if s.h.Traffic == nil {
			s.port++
			addrs[i] = "127.0.0.1:" + strconv.Itoa(20000+s.port)
			continue
		}
		ln, err := s.h.Traffic.Listen()
		require.NoError(t, err)
		b := StartBackend(t, ln)
		bs = append(bs, b)
		addrs[i] = b.Addr
	}
	return addrs, bs
}

// answers sends n requests and counts the bodies (the answering backends' addresses).
func (s *suite) answers(t *testing.T, n int, path, host string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for range n {
		resp := s.get(t, path, host)
		require.Equal(t, 200, resp.Status, "GET %s (host %q): %s", path, host, resp.Body)
		out[resp.Body]++
	}
	return out
}

func (s *suite) get(t *testing.T, path, host string, cookies ...*http.Cookie) Response {
	t.Helper()
	resp, err := get(ctx(t), s.h.Traffic.URL, path, host, cookies...)
	require.NoError(t, err, "GET %s (host %q)", path, host)
	return resp
}

// waitInFlight polls InFlight until addr's count is want (absent counts as -1).
func (s *suite) waitInFlight(t *testing.T, addr string, want int) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		m, err := s.b.InFlight(ctx(t))
		require.NoError(t, err)
		n, ok := m[addr]
		if !ok {
			n = -1
		}
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("in flight at %s: %d after %v, want %d (-1: absent)", addr, n, waitFor, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
