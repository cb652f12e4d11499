package podman

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/providers"
)

// listWithin runs List under a timeout, failing the test if it has not returned within
// the watchdog.
func listWithin(t *testing.T, h providers.Host, timeout, watchdog time.Duration) (error, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	done := make(chan error, 1)
	go func() { _, err := h.List(ctx, "", ""); done <- err }()
	select {
	case err := <-done:
		return err, time.Since(start)
	case <-time.After(watchdog):
		t.Fatalf("List did not return within %v", watchdog)
		return nil, 0
	}
}

func TestPartitionedSSHHostIsReportedUnreachable(t *testing.T) {
	hosts(t)
	spec := env.Specs()[1]
	h, err := Dialer{}.Dial(testCtx(t), spec)
	require.NoError(t, err)
	defer h.Close()
	_, err = h.List(testCtx(t), "", "")
	require.NoError(t, err, "the connection works before the link is cut")

	require.NoError(t, env.Partition(2))
	defer func() {
		require.NoError(t, env.Heal(2))
		redialH2(t)
	}()

	// The call waits its own deadline: no answer, and the keepalive has not yet run out.
	err, took := listWithin(t, h, 3*time.Second, 15*time.Second)
	require.Error(t, err)
	t.Logf("after %v: %v", took, err)
	assert.ErrorIs(t, err, providers.ErrUnreachable)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.EqualError(t, err, "host h2 ("+spec.URL+"): listing containers: unreachable: no answer within 3s")

	// Within DialTimeout of the cut the keepalive closes the tunnel; calls then fail at
	// once, saying why, instead of each waiting out its deadline.
	tunnel := h.(*Host).tunnel
	deadline := time.Now().Add(providers.DialTimeout + 5*time.Second)
	for tunnel.lostReason() == nil && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	require.Error(t, tunnel.lostReason(), "the keepalive noticed the dead connection within DialTimeout")
	err, took = listWithin(t, h, 3*time.Second, 15*time.Second)
	t.Logf("after %v: %v", took, err)
	assert.Less(t, took, 2*time.Second)
	assert.ErrorIs(t, err, providers.ErrUnreachable)
	assert.ErrorContains(t, err, "host h2 ("+spec.URL+"): listing containers: unreachable: the ssh connection was lost: no keepalive answer within 5s")

	// Dialling the cut host ends at the dial's deadline, with the same words.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = Dialer{}.Dial(ctx, spec)
	assert.ErrorIs(t, err, providers.ErrUnreachable)
	assert.EqualError(t, err, "host h2 ("+spec.URL+"): connecting: unreachable: no answer within 2s")
}

func TestMissingSocketIsReportedUnreachable(t *testing.T) {
	hosts(t)
	s := env.Specs()[0]
	sock := filepath.Join(t.TempDir(), "podman.sock")
	s.URL = "unix://" + sock
	_, err := Dialer{}.Dial(testCtx(t), s)
	assert.ErrorIs(t, err, providers.ErrUnreachable)
	assert.ErrorContains(t, err, "host h1 (unix://"+sock+"): connecting: unreachable: dial unix "+sock+": connect: no such file or directory")
}
