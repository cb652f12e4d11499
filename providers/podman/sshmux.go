package podman

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
)

// Shared ssh connections, like OpenSSH's ControlPersist (which Ansible turns on by
// default). An ssh handshake costs each command about 50 ms on a host next door (most of
// it sshd's work: fork, key exchange, checking the key) and several round trips more over a
// real network, which is most of what a no-op deploy or `deck status` costs. So the first
// command that dials an ssh host also starts a mux: a background deck process
// (`deck ssh-mux`) that dials the host itself, checks its key the same way, and serves the
// host's Podman socket on a unix socket in a private directory. Later commands connect to
// that socket and skip the handshake. The mux exits when no command has used it for
// Dialer.Persist, or at once when its ssh connection is lost (its keepalive notices a host
// that stops answering). A mux that does not answer is never waited on: the command dials
// the host itself, as it would without one.
//
// Whoever can connect to the socket can drive the host's Podman: the directory is the
// user's runtime directory ($XDG_RUNTIME_DIR/deck, else $TMPDIR/deck-UID), created 0700
// and refused when anyone else owns it or can enter it.

// MuxEnv is the environment variable that hands a mux process its MuxSpec (JSON).
const MuxEnv = "DECK_SSH_MUX_SPEC"

// MuxSpec is what a mux process serves.
type MuxSpec struct {
	Host        manifest.HostSpec `json:"host"`
	Socket      string            `json:"socket"`
	Idle        time.Duration     `json:"idle"`
	HostTimeout time.Duration     `json:"host_timeout"`
}

// muxDir returns the private directory that holds the mux sockets, creating it.
func muxDir() (string, error) {
	base := os.Getenv("XDG_RUNTIME_DIR")
	dir := filepath.Join(base, "deck")
	if base == "" {
		dir = filepath.Join(os.TempDir(), "deck-"+strconv.Itoa(os.Getuid()))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Getuid() || fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%s is not a private directory of this user (mode %v)", dir, fi.Mode())
	}
	return dir, nil
}

// muxSocket is the mux socket of a host: one per URL, identity, known_hosts file and the
// keys in it, so a command never shares a connection that was made with another identity
// or checked against other keys (a host that was set up again has a new key).
func muxSocket(spec manifest.HostSpec) (string, error) {
	dir, err := muxDir()
	if err != nil {
		return "", err
	}
	known := spec.KnownHosts
	if known == "" {
		if home, err := os.UserHomeDir(); err == nil {
			known = filepath.Join(home, ".ssh", "known_hosts")
		}
	}
	keys, _ := os.ReadFile(known)
	h := sha256.New()
	for _, part := range [][]byte{[]byte(spec.URL), []byte(spec.Identity), []byte(known), keys} {
		h.Write(part)
		h.Write([]byte{0})
	}
	return filepath.Join(dir, "ssh-"+hex.EncodeToString(h.Sum(nil)[:8])+".sock"), nil
}

// muxAnswerWithin bounds how long a command waits for a mux's answer before it dials the
// host itself. A mux whose host rebooted or went away keeps its dead connection until its
// keepalive notices (up to the host timeout): the command must not wait for that.
const muxAnswerWithin = time.Second

// viaMux returns the URI of the host's mux when one is running and the host answers
// through it (Podman's /_ping), or "" when the command should dial the host itself.
func viaMux(ctx context.Context, spec manifest.HostSpec) string {
	sock, err := muxSocket(spec)
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, muxAnswerWithin)
	defer cancel()
	// A ping of its own: the bindings would retry a dead socket for 600 ms, whatever
	// the deadline.
	c, err := (&net.Dialer{}).DialContext(ctx, "unix", sock)
	if err != nil {
		return ""
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	_ = c.SetDeadline(deadline)
	if _, err := io.WriteString(c, "GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n"); err != nil {
		return ""
	}
	status, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.") || !strings.Contains(status, " 200 ") {
		return ""
	}
	return "unix://" + sock
}

// startMux starts a mux for the host in the background, for the next commands. It does not
// wait for it, and a mux that cannot start changes nothing: the commands dial directly.
func (d Dialer) startMux(spec manifest.HostSpec) {
	sock, err := muxSocket(spec)
	if err != nil {
		return
	}
	js, err := json.Marshal(MuxSpec{Host: spec, Socket: sock, Idle: d.Persist, HostTimeout: providers.DialTimeout})
	if err != nil {
		return
	}
	closeOnExecAll()
	cmd := exec.Command(d.MuxCommand[0], d.MuxCommand[1:]...)
	cmd.Env = append(muxEnviron(), MuxEnv+"="+string(js))
	// Its own session: a terminal's hang-up or Ctrl-C ends the command, not the mux.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err == nil {
		_ = cmd.Process.Release()
	}
}

// muxEnviron is the part of deck's environment a mux needs: where home and the ssh agent
// are. Nothing else goes with it: a deploy's environment may hold secret values, and the mux
// outlives the deploy.
func muxEnviron() []string {
	var env []string
	for _, k := range []string{"HOME", "USER", "LOGNAME", "PATH", "SSH_AUTH_SOCK", "XDG_RUNTIME_DIR", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// closeOnExecAll marks every descriptor above stderr close-on-exec. Go opens its own that
// way, but deck may have inherited others (a shell's `exec 9>lock` for flock): a mux that
// lives on for a minute must not keep them, and the lock they hold, open.
func closeOnExecAll() {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		entries, err = os.ReadDir("/dev/fd")
		if err != nil {
			return
		}
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}

// ServeMux runs a mux (the `deck ssh-mux` process): it dials spec.Host, serves its Podman
// socket at spec.Socket and returns when it has been idle for spec.Idle, when the ssh
// connection is lost, or when ctx ends. When another mux already serves the socket it
// returns nil at once.
func ServeMux(ctx context.Context, spec MuxSpec) error {
	if spec.Socket == "" || spec.Idle <= 0 {
		return errors.New("a mux needs a socket and an idle time")
	}
	if spec.HostTimeout > 0 {
		providers.DialTimeout = spec.HostTimeout
	}
	// One mux per socket: the lock is held for the mux's life, so two commands that both
	// found none and both started one leave one running.
	lock, err := os.OpenFile(spec.Socket+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return nil
	}
	// Removed while still held, on the way out (the deferred calls run in reverse): a
	// mux that opened the old file meanwhile finds it locked and leaves.
	defer os.Remove(lock.Name())
	// Its process id, for whoever wants to know which process holds the connection.
	_ = lock.Truncate(0)
	_, _ = lock.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	// A socket left by a mux that was killed: the lock says no one serves it.
	_ = os.Remove(spec.Socket)
	u, err := url.Parse(spec.Host.URL)
	if err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, providers.DialTimeout)
	t, err := dialSSH(dctx, u, spec.Host.Identity, spec.Host.KnownHosts, spec.Socket)
	cancel()
	if err != nil {
		return err
	}
	defer t.Close()
	check := max(spec.Idle/10, 50*time.Millisecond)
	tick := time.NewTicker(check)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.done:
			return t.lostReason()
		case <-tick.C:
			idle := time.Since(time.Unix(0, t.lastUsed.Load()))
			if t.active.Load() == 0 && idle >= spec.Idle {
				return nil
			}
		}
	}
}
