package caddy

import (
	"path/filepath"
	"testing"

	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/lb"
	"github.com/deckhq/deck/providers/lb/lbtest"
)

// TestConformance runs the suite against the real Caddy, reaching its admin socket
// directly and through the ssh connection to h2 (the hosts share this filesystem, so the
// socket's path is the same there).
func TestConformance(t *testing.T) {
	e := hosts(t)
	traffic := &lbtest.Traffic{URL: "http://" + e.LB.Listen, Listen: listenBackend}

	t.Run("unix", func(t *testing.T) {
		b, writes := balancer(t, UnixDial(e.LB.Admin))
		lbtest.Run(t, lbtest.Harness{Balancer: b, Writes: writes, Traffic: traffic,
			Unreachable: func(t *testing.T) lb.Balancer {
				return New(e.LB.Spec(), UnixDial(filepath.Join(t.TempDir(), "admin.sock")))
			}})
	})
	t.Run("ssh", func(t *testing.T) {
		via := sshHost.(providers.SocketDialer)
		b, writes := balancer(t, SocketDial(via, e.LB.Admin))
		lbtest.Run(t, lbtest.Harness{Balancer: b, Writes: writes, Traffic: traffic,
			Unreachable: func(t *testing.T) lb.Balancer {
				return New(e.LB.Spec(), SocketDial(via, filepath.Join(t.TempDir(), "admin.sock")))
			}})
	})
}
