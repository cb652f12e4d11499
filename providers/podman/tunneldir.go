package podman

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// tunnelDirPrefix names the private directories of the ssh tunnels' local sockets:
// deck-ssh-PID-RANDOM in the temporary directory, PID being the process that made it.
const tunnelDirPrefix = "deck-ssh-"

// makeTunnelDir creates this process's private (0700) directory for a tunnel's socket.
// The first call also removes the directories of deck processes that are gone: a process
// killed with SIGKILL (a CI runner cancelling a job, a crash test) cannot remove its own,
// and without this they pile up in /tmp, one per ssh host per killed command.
func makeTunnelDir() (string, error) {
	sweepOnce.Do(func() { sweepTunnelDirs(os.TempDir(), os.Getpid()) })
	return os.MkdirTemp("", tunnelDirPrefix+strconv.Itoa(os.Getpid())+"-")
}

var sweepOnce sync.Once

// sweepTunnelDirs removes the tunnel directories under dir whose process is no longer
// running. A directory is only ever removed by this user and only when its PID is gone,
// so a live process's socket (being created or in use) is never touched; a PID reused
// since merely postpones the removal to a later sweep. A socket that still accepts is
// left too: its process may be alive in another PID namespace that shares this /tmp.
func sweepTunnelDirs(dir string, self int) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, ok := tunnelDirPID(e.Name())
		if !ok || pid == self || !e.IsDir() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if info, err := os.Lstat(path); err != nil || !ownedByMe(info) {
			continue
		}
		if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) && !listening(filepath.Join(path, "podman.sock")) {
			_ = os.RemoveAll(path)
		}
	}
}

// tunnelDirPID reads the PID out of a tunnel directory's name (deck-ssh-PID-RANDOM).
func tunnelDirPID(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, tunnelDirPrefix)
	if !ok {
		return 0, false
	}
	p, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(p)
	return pid, err == nil && pid > 0
}

// listening reports whether something accepts connections on the unix socket at path.
func listening(path string) bool {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

func ownedByMe(info os.FileInfo) bool {
	st, ok := info.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid()
}
