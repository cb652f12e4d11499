package podman

import (
	"context"
	"fmt"
	"net"

	"github.com/deckhq/deck/providers"
)

var _ providers.SocketDialer = (*Host)(nil)

// DialSocket opens the unix socket path on the host: directly for a unix:// host (the
// host is this machine), as an ssh direct-streamlocal channel over the host's tunnel for
// an ssh:// one. Nothing listens on a network port for it.
func (h *Host) DialSocket(ctx context.Context, path string) (net.Conn, error) {
	op := "opening socket " + path
	if h.tunnel != nil {
		c, err := h.tunnel.client.DialContext(ctx, "unix", path)
		if err != nil {
			if lost := h.tunnel.lostReason(); lost != nil {
				return nil, h.fail(op, fmt.Errorf("%w: %v", providers.ErrUnreachable, lost))
			}
			return nil, h.fail(op, err)
		}
		return c, nil
	}
	c, err := (&net.Dialer{}).DialContext(ctx, "unix", path)
	if err != nil {
		return nil, h.fail(op, err)
	}
	return c, nil
}
