package podman

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/errorhandling"
	"github.com/stretchr/testify/assert"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
)

// These run without hosts: they pin down how each kind of failure reads.

func TestWrapSaysWhatAndWhy(t *testing.T) {
	h := &Host{spec: manifest.HostSpec{Name: "h2", URL: "ssh://root@10.77.0.12/run/podman/podman.sock"}}
	prefix := "host h2 (ssh://root@10.77.0.12/run/podman/podman.sock): listing containers: "
	api := func(code int, msg string) error {
		return &errorhandling.ErrorModel{Message: msg, ResponseCode: code}
	}
	refused := &net.OpError{Op: "dial", Net: "unix", Addr: &net.UnixAddr{Name: "/run/podman/podman.sock", Net: "unix"},
		Err: &net.OpError{Op: "connect", Err: syscall.ECONNREFUSED}}
	httpErr := func(err error) error {
		return &url.Error{Op: "Get", URL: "http://d/v5.8.1/libpod/containers/json", Err: err}
	}

	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Millisecond))
	defer cancel()
	canceled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	live := context.Background()

	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want string
		is   []error
	}{
		{"deadline", callContext{Context: expired, start: time.Now().Add(-3 * time.Second)}, httpErr(context.DeadlineExceeded),
			"unreachable: no answer within 3s", []error{providers.ErrUnreachable, context.DeadlineExceeded}},
		{"canceled", callContext{Context: canceled, start: time.Now().Add(-1500 * time.Millisecond)}, httpErr(context.Canceled),
			"unreachable: no answer within 1.5s (the call was canceled)", []error{providers.ErrUnreachable, context.Canceled}},
		{"refused", h.call(live), httpErr(refused),
			"unreachable: dial unix /run/podman/podman.sock: connect: connection refused", []error{providers.ErrUnreachable, syscall.ECONNREFUSED}},
		{"eof", h.call(live), httpErr(io.EOF),
			"unreachable: the connection closed before an answer came", []error{providers.ErrUnreachable, io.EOF}},
		{"reset", h.call(live), fmt.Errorf("reading: %w", syscall.ECONNRESET),
			"unreachable: the connection closed before an answer came", []error{providers.ErrUnreachable}},
		{"not found", h.call(live), api(404, "no such container"),
			"not found (no such container)", []error{providers.ErrNotFound}},
		{"answered", h.call(live), api(500, "something broke"), "something broke", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := h.wrap(tc.ctx, "listing containers", tc.err)
			assert.EqualError(t, err, prefix+tc.want)
			for _, target := range tc.is {
				assert.ErrorIs(t, err, target)
			}
			if tc.is == nil {
				assert.NotErrorIs(t, err, providers.ErrUnreachable)
			}
		})
	}
}

func TestLostTunnelIsTheReason(t *testing.T) {
	tunnel := &sshTunnel{lost: errors.New("the ssh connection was lost: no keepalive answer within 5s")}
	h := &Host{spec: manifest.HostSpec{Name: "h2", URL: "ssh://x/y"}, tunnel: tunnel}
	missing := &net.OpError{Op: "dial", Net: "unix", Err: syscall.ENOENT}
	err := h.wrap(h.call(context.Background()), "stopping container abc", missing)
	assert.EqualError(t, err, "host h2 (ssh://x/y): stopping container abc: unreachable: the ssh connection was lost: no keepalive answer within 5s")
}

func TestNameInUse(t *testing.T) {
	// What 4.3.1 answers to a second create of a secret name (seen with curl).
	assert.True(t, isNameInUse(&errorhandling.ErrorModel{Message: "rec1: secret name in use", ResponseCode: 500}))
	assert.True(t, isNameInUse(&errorhandling.ErrorModel{Message: "secret name in use", ResponseCode: 409}))
	assert.False(t, isNameInUse(&errorhandling.ErrorModel{Message: "invalid secret name", ResponseCode: 500}))
	assert.False(t, isNameInUse(errors.New("secret name in use")), "only an answer from the server counts")
}

func TestShortID(t *testing.T) {
	id := "9378b8b7bd4cb6aaec2983d98323d4a1792da9151b557dc8bc753747f4ec6036"
	assert.Equal(t, "9378b8b7bd4c", shortID(id))
	assert.Equal(t, "web-1", shortID("web-1"))
}

func TestExitRaceIsTheNoSuchProcessAnswer(t *testing.T) {
	// The answer seen in CI when a container exited while Podman 4.3 inspected it.
	assert.True(t, exitRace(&errorhandling.ErrorModel{Message: "read /proc/6577/cgroup: no such process", ResponseCode: 500}))
	assert.False(t, exitRace(&errorhandling.ErrorModel{Message: "no such container", ResponseCode: 404}))
	assert.False(t, exitRace(&errorhandling.ErrorModel{Message: "read /proc/6577/cgroup: permission denied", ResponseCode: 500}))
	assert.False(t, exitRace(errors.New("no such process")), "not an answer from the API")
}
