package podman

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A tunnel directory left by a process that is gone (SIGKILLed) is removed by the next
// process's first tunnel; those of live processes, and anything else, are left alone.
func TestSweepRemovesOnlyTheTunnelDirsOfGoneProcesses(t *testing.T) {
	dir := t.TempDir()
	gone := exec.Command("true")
	require.NoError(t, gone.Run())
	deadPID := gone.ProcessState.Pid()
	live := exec.Command("sleep", "60")
	require.NoError(t, live.Start())
	t.Cleanup(func() { _ = live.Process.Kill(); _ = live.Wait() })

	mk := func(name string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.Mkdir(p, 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(p, "podman.sock"), nil, 0o600))
		return p
	}
	dead := mk(tunnelDirPrefix + strconv.Itoa(deadPID) + "-123")
	// A gone PID whose socket still accepts: a process of another PID namespace.
	elsewhere := filepath.Join(dir, tunnelDirPrefix+strconv.Itoa(deadPID)+"-999")
	require.NoError(t, os.Mkdir(elsewhere, 0o700))
	ln, err := net.Listen("unix", filepath.Join(elsewhere, "podman.sock"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	alive := mk(tunnelDirPrefix + strconv.Itoa(live.Process.Pid) + "-456")
	mine := mk(tunnelDirPrefix + strconv.Itoa(os.Getpid()) + "-789")
	old := mk(tunnelDirPrefix + "1028056787") // an older deck's name: no PID in it
	other := mk("deck-podman-test-1")

	sweepTunnelDirs(dir, os.Getpid())

	assert.NoDirExists(t, dead, "the directory of a process that is gone")
	for _, p := range []string{alive, mine, old, other, elsewhere} {
		assert.DirExists(t, p)
	}
}

func TestMakeTunnelDirNamesItsProcess(t *testing.T) {
	d, err := makeTunnelDir()
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(d) })
	pid, ok := tunnelDirPID(filepath.Base(d))
	require.True(t, ok, d)
	assert.Equal(t, os.Getpid(), pid)
	info, err := os.Stat(d)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), info.Mode().Perm())
}
