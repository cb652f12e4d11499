//go:build !linux

package podman

import "net"

// quickAck is Linux's TCP_QUICKACK (see quickack_linux.go); elsewhere the connection is
// used as it is.
func quickAck(c net.Conn) net.Conn { return c }
