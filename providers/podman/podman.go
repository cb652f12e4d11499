// Package podman is deck's provider for real Podman hosts: it drives each host's own
// Podman API service (`podman system service`) through the Go bindings, over a local unix
// socket or over ssh. It behaves like providers/fake, method for method.
package podman

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/containers/podman/v5/pkg/bindings"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
)

var (
	_ providers.Host   = (*Host)(nil)
	_ providers.Dialer = Dialer{}
)

// Dialer connects to Podman hosts by their URL: unix:///path/podman.sock or
// ssh://user@host[:port]/path/podman.sock.
type Dialer struct {
	// Persist, with MuxCommand, shares ssh connections between commands: a background
	// process keeps each one open until it has been idle this long (see sshmux.go).
	// 0 dials every ssh host afresh.
	Persist time.Duration
	// MuxCommand runs a mux: the deck binary and its hidden ssh-mux command, which calls
	// ServeMux. Nil (a library or a test binary) shares nothing.
	MuxCommand []string
}

// Host is one connected Podman host.
type Host struct {
	spec manifest.HostSpec
	// conn is the context the bindings returned: it carries the connection and the server's
	// API version as values. Its cancellation (the dial's) is never used after Dial; every
	// call runs under its caller's context (see call).
	conn context.Context
	// tunnel is set for ssh:// hosts dialled by this process; it is closed with the host.
	tunnel *sshTunnel
	// mux is the socket of the shared ssh connection an ssh:// host is reached through,
	// when it is (see sshmux.go).
	mux string
}

// Dial connects to the host and checks that its Podman API answers. For ssh:// hosts the
// host key is checked against spec.KnownHosts (default ~/.ssh/known_hosts) before anything
// is sent: an unknown or changed key is an error, never trusted silently.
func (d Dialer) Dial(ctx context.Context, spec manifest.HostSpec) (providers.Host, error) {
	h := &Host{spec: spec}
	const op = "connecting"
	u, err := url.Parse(spec.URL)
	if err != nil {
		return nil, h.fail(op, fmt.Errorf("invalid URL: %w", err))
	}
	cctx := h.call(ctx)
	uri := spec.URL
	switch u.Scheme {
	case "unix":
	case "ssh":
		share := d.Persist > 0 && len(d.MuxCommand) > 0
		if share {
			if mux := viaMux(cctx, spec); mux != "" {
				h.mux = mux
				conn, err := bindings.NewConnection(cctx, mux)
				if err == nil {
					h.conn = conn
					return h, nil
				}
				h.mux = ""
				// A mux on its way out: dial the host directly, which says why if it fails.
			}
		}
		t, err := dialSSH(cctx, u, spec.Identity, spec.KnownHosts, "")
		if err != nil {
			return nil, h.wrap(cctx, op, err)
		}
		h.tunnel = t
		uri = "unix://" + t.localSocket
		if share {
			d.startMux(spec)
		}
	default:
		return nil, h.fail(op, fmt.Errorf("unsupported URL scheme %q (want unix:// or ssh://)", u.Scheme))
	}
	conn, err := bindings.NewConnection(cctx, uri)
	if err != nil {
		err = h.wrap(cctx, op, err)
		_ = h.Close()
		return nil, err
	}
	h.conn = conn
	return h, nil
}

// Connection is the bindings connection, for tools that call the Podman API directly (the
// speed floor in bench/floor measures the API without deck's provider in between). Calls
// on it are not bounded by deck's host timeout.
func (h *Host) Connection() context.Context { return h.conn }

// Name returns the host's name from its spec.
func (h *Host) Name() string { return h.spec.Name }

// Spec returns the spec the host was dialled with.
func (h *Host) Spec() manifest.HostSpec { return h.spec }

// Close releases the connection: its idle HTTP connections (a long-running controller dials
// hosts again and again) and, for ssh:// hosts, the tunnel.
func (h *Host) Close() error {
	if h.conn != nil {
		if c, err := bindings.GetClient(h.conn); err == nil && c.Client != nil {
			c.Client.CloseIdleConnections()
		}
	}
	if h.tunnel != nil {
		return h.tunnel.Close()
	}
	return nil
}

// call returns the context for one API call: the caller's deadline and cancellation with
// the bindings' connection values. Keeping the dial's context instead would tie every
// later call to the dial's timeout. It also notes when the call started, so a call that
// gets no answer can say how long deck waited (see wrap).
func (h *Host) call(ctx context.Context) context.Context {
	return callContext{Context: ctx, conn: h.conn, start: time.Now()}
}

type callContext struct {
	context.Context
	conn  context.Context // nil while dialling
	start time.Time
}

func (c callContext) Value(key any) any {
	if c.conn != nil {
		if v := c.conn.Value(key); v != nil {
			return v
		}
	}
	return c.Context.Value(key)
}

// callStart returns when the call made under ctx started.
func callStart(ctx context.Context) (time.Time, bool) {
	c, ok := ctx.(callContext)
	return c.start, ok
}
