package caddy

import (
	"context"
	"net"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/lb"
)

// BenchmarkAdmin measures one admin read (Routes) and one write (a Put that changes the
// targets, so Caddy reloads), through the socket directly and through ssh.
func BenchmarkAdmin(b *testing.B) {
	e := hosts(b)
	for _, via := range []struct {
		name string
		dial func(context.Context) (net.Conn, error)
	}{
		{"unix", UnixDial(e.LB.Admin)},
		{"ssh", SocketDial(sshHost.(providers.SocketDialer), e.LB.Admin)},
	} {
		bal := New(e.LB.Spec(), via.dial)
		r := lb.Route{App: "bench", Env: "test", Service: "web", Path: "/bench", Targets: []string{"127.0.0.1:1"}}
		require.NoError(b, bal.Put(context.Background(), r))
		b.Run("routes/"+via.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := bal.Routes(context.Background(), "bench", "test"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("put/"+via.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				i++
				r.Targets = []string{"127.0.0.1:" + strconv.Itoa(1+i%2)}
				if err := bal.Put(context.Background(), r); err != nil {
					b.Fatal(err)
				}
			}
		})
		require.NoError(b, bal.Delete(context.Background(), "bench", "test", "web"))
	}
}
