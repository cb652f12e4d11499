package podman

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/deckhq/deck/providers"
)

func TestDialSSHHostKeys(t *testing.T) {
	hosts(t)
	spec := env.Specs()[1]
	addr := env.Hosts[1].Address
	dir := t.TempDir()

	t.Run("wrong key", func(t *testing.T) {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		sshPub, err := ssh.NewPublicKey(pub)
		require.NoError(t, err)
		file := filepath.Join(dir, "wrong_known_hosts")
		line := addr + " " + string(ssh.MarshalAuthorizedKey(sshPub))
		require.NoError(t, os.WriteFile(file, []byte(line), 0o600))
		s := spec
		s.KnownHosts = file
		_, err = Dialer{}.Dial(testCtx(t), s)
		require.Error(t, err)
		var he *providers.HostError
		require.ErrorAs(t, err, &he)
		assert.Equal(t, "h2", he.Host)
		assert.Equal(t, spec.URL, he.URL)
		assert.ErrorContains(t, err, "host key mismatch for "+addr)
		assert.ErrorContains(t, err, "possible man-in-the-middle")
		assert.ErrorContains(t, err, file+":1")
	})

	t.Run("unknown key", func(t *testing.T) {
		file := filepath.Join(dir, "empty_known_hosts")
		require.NoError(t, os.WriteFile(file, []byte("10.77.0.250 "+keyOf(t, spec.KnownHosts)), 0o600))
		s := spec
		s.KnownHosts = file
		_, err := Dialer{}.Dial(testCtx(t), s)
		require.Error(t, err)
		assert.ErrorContains(t, err, "the ssh host key of "+addr+" is not in "+file)
		assert.ErrorContains(t, err, "ssh-keyscan -p 22 "+addr+" >> "+file)
		data, _ := os.ReadFile(file)
		assert.NotContains(t, string(data), addr, "an unknown key is never added")
	})

	t.Run("missing known_hosts", func(t *testing.T) {
		s := spec
		s.KnownHosts = filepath.Join(dir, "nonexistent")
		_, err := Dialer{}.Dial(testCtx(t), s)
		assert.ErrorContains(t, err, "is not in "+s.KnownHosts+" (the file does not exist)")
		assert.NoFileExists(t, s.KnownHosts)
	})

	t.Run("wrong socket path", func(t *testing.T) {
		s := spec
		s.URL = "ssh://root@" + addr + "/nonexistent/podman.sock"
		_, err := Dialer{}.Dial(testCtx(t), s)
		assert.ErrorContains(t, err, "cannot open the Podman socket /nonexistent/podman.sock")
	})

	t.Run("correct key", func(t *testing.T) {
		h, err := Dialer{}.Dial(testCtx(t), spec)
		require.NoError(t, err)
		defer h.Close()
		_, err = h.List(testCtx(t), "", "")
		require.NoError(t, err)
	})
}

// keyOf returns the key part of the first line of a known_hosts file.
func keyOf(t *testing.T, file string) string {
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	_, _, key, _, _, err := ssh.ParseKnownHosts(data)
	require.NoError(t, err)
	return string(ssh.MarshalAuthorizedKey(key))
}

func TestDialDeadHostsFailFast(t *testing.T) {
	hosts(t)
	specs := env.Specs()

	t.Run("no socket", func(t *testing.T) {
		s := specs[0]
		s.URL = "unix://" + filepath.Join(t.TempDir(), "podman.sock")
		start := time.Now()
		_, err := Dialer{}.Dial(testCtx(t), s)
		var he *providers.HostError
		require.ErrorAs(t, err, &he)
		assert.ErrorIs(t, err, providers.ErrUnreachable)
		assert.Less(t, time.Since(start), 2*time.Second)
	})

	t.Run("partitioned ssh host", func(t *testing.T) {
		require.NoError(t, env.Partition(2))
		defer func() {
			require.NoError(t, env.Heal(2))
			redialH2(t)
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		_, err := Dialer{}.Dial(ctx, specs[1])
		require.Error(t, err)
		assert.Less(t, time.Since(start), 3*time.Second, "the dial respects the context's deadline")

		// A call on an open connection to a partitioned host also ends at its deadline.
		ctx2, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel2()
		start = time.Now()
		_, err = h2.List(ctx2, "", "")
		require.Error(t, err)
		assert.ErrorIs(t, err, providers.ErrUnreachable)
		assert.Less(t, time.Since(start), 3*time.Second)
	})

	t.Run("dial context only bounds the dial", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		h, err := Dialer{}.Dial(ctx, specs[0])
		require.NoError(t, err)
		defer h.Close()
		cancel()
		_, err = h.Info(testCtx(t))
		assert.NoError(t, err, "later calls run under their own context")
	})

	t.Run("unsupported scheme", func(t *testing.T) {
		s := specs[0]
		s.URL = "http://example.invalid/"
		_, err := Dialer{}.Dial(testCtx(t), s)
		assert.ErrorContains(t, err, `unsupported URL scheme "http"`)
	})
}

func TestSSHConnectionLost(t *testing.T) {
	hosts(t)
	h, err := Dialer{}.Dial(testCtx(t), env.Specs()[1])
	require.NoError(t, err)
	defer h.Close()
	// Ending the host's sshd ends the tunnel; the next call says why.
	h.(*Host).tunnel.client.Conn.Close()
	time.Sleep(100 * time.Millisecond)
	_, err = h.List(testCtx(t), "", "")
	require.Error(t, err)
	assert.ErrorContains(t, err, "the ssh connection was")
}
