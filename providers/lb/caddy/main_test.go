package caddy

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/podman"
	"github.com/deckhq/deck/testhosts"
)

// The tests that need Caddy run against the one testhosts starts in h1's namespace, with
// h2 reachable only over ssh. The hosts are started by the first test that needs them and
// stopped in TestMain.

// backendAddr is where the tests' backends listen: the bridge's address in the root
// namespace, which h1's namespace (and so Caddy) reaches directly over the bridge.
const backendAddr = "10.77.0.1:0"

var (
	envOnce  sync.Once
	env      *testhosts.Env
	sshHost  providers.Host // h2, over ssh
	setupErr error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if sshHost != nil {
		_ = sshHost.Close()
	}
	if env != nil {
		if err := env.Down(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// hosts returns the started test hosts.
func hosts(t testing.TB) *testhosts.Env {
	t.Helper()
	testhosts.Require(t)
	envOnce.Do(func() {
		start := time.Now()
		env, setupErr = testhosts.Up(2, 2)
		if setupErr != nil {
			return
		}
		t.Logf("timing: 2 hosts and caddy up in %v", time.Since(start))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		sshHost, setupErr = podman.Dialer{}.Dial(ctx, env.Specs()[1])
	})
	require.NoError(t, setupErr, "setting up the test hosts")
	return env
}

// balancer returns the test hosts' Caddy, reached through dial, and a count of the admin
// writes made through it.
func balancer(t *testing.T, dial func(context.Context) (net.Conn, error)) (*Balancer, func() int) {
	var writes atomic.Int64
	b := New(hosts(t).LB.Spec(), countWrites(dial, &writes))
	return b, func() int { return int(writes.Load()) }
}

func listenBackend() (net.Listener, error) { return net.Listen("tcp", backendAddr) }

// countWrites counts the requests other than GET sent through the connections dial
// opens: the transport sends one request per connection, in one Write.
func countWrites(dial func(context.Context) (net.Conn, error), n *atomic.Int64) func(context.Context) (net.Conn, error) {
	return func(ctx context.Context) (net.Conn, error) {
		c, err := dial(ctx)
		if err != nil {
			return nil, err
		}
		return &sniffConn{Conn: c, n: n}, nil
	}
}

type sniffConn struct {
	net.Conn
	n       *atomic.Int64
	written bool
}

func (c *sniffConn) Write(p []byte) (int, error) {
	if !c.written {
		c.written = true
		if len(p) < 4 || string(p[:4]) != "GET " {
			c.n.Add(1)
		}
	}
	return c.Conn.Write(p)
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
