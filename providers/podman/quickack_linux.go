package podman

import (
	"net"
	"syscall"
)

// quickAck makes the ssh connection acknowledge what it reads at once.
//
// OpenSSH's sshd turns Nagle's algorithm off only for interactive sessions. For a tunnel it
// holds back a small packet until the one before it is acknowledged, and Linux delays that
// acknowledgement by up to 40 ms when the client has nothing to send. The first channel
// deck opens after authenticating stalled on exactly that: 43-47 ms of nothing on every
// ssh host, every command (measured against Debian 12's sshd; 0.8-1.8 ms with quickack).
// TCP_QUICKACK is not sticky (the kernel drops back to delayed ACKs after a while), so it
// is set again before each read: one setsockopt, cheap beside a round trip.
func quickAck(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	return &quickAckConn{TCPConn: tc, raw: raw}
}

type quickAckConn struct {
	*net.TCPConn
	raw syscall.RawConn
}

func (c *quickAckConn) Read(p []byte) (int, error) {
	_ = c.raw.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
	return c.TCPConn.Read(p)
}
