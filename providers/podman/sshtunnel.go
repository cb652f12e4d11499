package podman

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"

	"github.com/deckhq/deck/providers"
)

// sshTunnel carries a remote host's Podman socket to a private local unix socket over one
// ssh connection that deck opened and verified itself. The bindings then talk to the local
// socket: their own ssh code would trust an unknown host key and append it to
// ~/.ssh/known_hosts, which a deploy tool must not do.
type sshTunnel struct {
	client      *ssh.Client
	remotePath  string
	dir         string // private (0700) directory holding localSocket, removed on Close; "" for a mux's socket
	localSocket string
	listener    net.Listener
	done        chan struct{}
	closeOnce   sync.Once

	// active counts the local connections being forwarded; lastUsed is when the last one
	// ended (unix nanoseconds): a mux exits when it has been idle for long enough.
	active   atomic.Int32
	lastUsed atomic.Int64

	mu   sync.Mutex
	lost error // why the tunnel closed itself (the host stopped answering), if it did
}

// sshDialTimeout bounds the ssh handshake when the caller's context has no deadline.
const sshDialTimeout = 30 * time.Second

// keepaliveEvery is how often the tunnel asks the host whether it is still there, and how
// long it waits for the answer: half of providers.DialTimeout each, so a host that stops
// answering is noticed within DialTimeout, not after the kernel's TCP retransmissions
// (about 15 minutes) or the next call's own deadline. The tunnel then closes itself and
// every later call fails at once, saying why.
func keepaliveEvery() time.Duration { return providers.DialTimeout / 2 }

// tcpKeepalive makes the kernel probe the ssh connection when it is idle, as a second
// line behind the ssh keepalive (which a stuck ssh library could not send).
func tcpKeepalive() net.KeepAliveConfig {
	return net.KeepAliveConfig{Enable: true, Idle: keepaliveEvery(), Interval: time.Second, Count: 3}
}

// dialSSH connects to the host and serves its Podman socket on a local unix socket: at
// socket when given (a mux's, see sshmux.go), else in a private temporary directory.
func dialSSH(ctx context.Context, u *url.URL, identity, knownHostsFile, socket string) (*sshTunnel, error) {
	if u.Path == "" || u.Path == "/" {
		return nil, fmt.Errorf("the ssh URL must end with the path of the Podman socket (ssh://user@host/run/podman/podman.sock)")
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "22"
	}
	addr := net.JoinHostPort(host, port)
	userName := u.User.Username()
	if userName == "" {
		cur, err := user.Current()
		if err != nil {
			return nil, fmt.Errorf("no user in the URL and the current user is unknown: %w", err)
		}
		userName = cur.Username
	}
	if knownHostsFile == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("no known_hosts file given and no home directory: %w", err)
		}
		knownHostsFile = filepath.Join(home, ".ssh", "known_hosts")
	}
	hostKeys, err := newHostKeyChecker(knownHostsFile, host, port)
	if err != nil {
		return nil, err
	}
	auth, err := authMethods(identity)
	if err != nil {
		return nil, err
	}
	cfg := &ssh.ClientConfig{
		User:              userName,
		Auth:              auth,
		HostKeyCallback:   hostKeys.check,
		HostKeyAlgorithms: hostKeys.algorithms(addr),
	}

	raw, err := (&net.Dialer{KeepAliveConfig: tcpKeepalive()}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	// The handshake runs on the raw connection: bound it by the context (deadline and
	// cancellation) so a host that accepts but never answers cannot hold Dial forever.
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(sshDialTimeout)
	}
	_ = raw.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	c, chans, reqs, err := ssh.NewClientConn(quickAck(raw), addr, cfg)
	stop()
	if err != nil {
		_ = raw.Close()
		if hkErr := hostKeys.err; hkErr != nil {
			return nil, hkErr
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("ssh handshake with %s: %w", addr, ctx.Err())
		}
		return nil, fmt.Errorf("ssh to %s@%s: %w", userName, addr, err)
	}
	_ = raw.SetDeadline(time.Time{})
	client := ssh.NewClient(c, chans, reqs)

	// Reach the socket once now, so a wrong path is a clear error here rather than an
	// unexplained EOF from the bindings later.
	probe, err := client.DialContext(ctx, "unix", u.Path)
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("ssh to %s: cannot open the Podman socket %s on the host: %w", addr, u.Path, err)
	}
	_ = probe.Close()

	t := &sshTunnel{client: client, remotePath: u.Path, done: make(chan struct{})}
	t.lastUsed.Store(time.Now().UnixNano())
	if err := t.listen(socket); err != nil {
		_ = client.Close()
		return nil, err
	}
	go t.serve()
	go t.keepalive()
	go t.watch()
	return t, nil
}

func (t *sshTunnel) listen(socket string) error {
	if socket != "" {
		l, err := net.Listen("unix", socket)
		if err != nil {
			return err
		}
		t.localSocket, t.listener = socket, l
		return nil
	}
	dir, err := makeTunnelDir()
	if err != nil {
		return err
	}
	t.dir = dir
	t.localSocket = filepath.Join(dir, "podman.sock")
	l, err := net.Listen("unix", t.localSocket)
	if err != nil {
		_ = os.RemoveAll(dir)
		return err
	}
	t.listener = l
	return nil
}

// serve forwards each local connection to the remote socket through the ssh connection.
func (t *sshTunnel) serve() {
	for {
		local, err := t.listener.Accept()
		if err != nil {
			return
		}
		go t.forward(local)
	}
}

func (t *sshTunnel) forward(local net.Conn) {
	t.active.Add(1)
	defer func() {
		t.lastUsed.Store(time.Now().UnixNano())
		t.active.Add(-1)
	}()
	defer local.Close()
	// The caller's deadline is not known here: bound the channel open by DialTimeout, and
	// end it at once when the tunnel closes.
	ctx, cancel := context.WithTimeout(context.Background(), providers.DialTimeout)
	go func() {
		select {
		case <-t.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	remote, err := t.client.DialContext(ctx, "unix", t.remotePath)
	cancel()
	if err != nil {
		return
	}
	defer remote.Close()
	// The exchange lasts as long as the host sends. The end of what the local side sends
	// is passed on as a half-close, which the host answers (an exec's stdin reaching its
	// end, and the command's last output after it), or closes on (an HTTP client that hung
	// up: the server sees the end of its requests).
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(remote, local)
		if cw, ok := remote.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		} else {
			_ = remote.Close()
		}
	}()
	go func() { _, _ = io.Copy(local, remote); close(done) }()
	select {
	case <-done:
	case <-t.done:
	}
}

func (t *sshTunnel) keepalive() {
	every := keepaliveEvery()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-t.done:
			return
		case <-tick.C:
		}
		reply := make(chan error, 1)
		go func() {
			_, _, err := t.client.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		select {
		case <-t.done:
			return
		case err := <-reply:
			if err != nil {
				t.closeLost(fmt.Errorf("the ssh connection was lost: %w", err))
				return
			}
		case <-time.After(every):
			t.closeLost(fmt.Errorf("the ssh connection was lost: no keepalive answer within %v", every))
			return
		}
	}
}

// watch closes the tunnel when the host ends the ssh connection.
func (t *sshTunnel) watch() {
	err := t.client.Wait()
	select {
	case <-t.done: // closed by us
	default:
		if err == nil {
			err = io.EOF
		}
		t.closeLost(fmt.Errorf("the ssh connection was closed by the host: %w", err))
	}
}

func (t *sshTunnel) closeLost(why error) {
	t.mu.Lock()
	t.lost = why
	t.mu.Unlock()
	_ = t.Close()
}

func (t *sshTunnel) lostReason() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lost
}

func (t *sshTunnel) Close() error {
	var err error
	t.closeOnce.Do(func() {
		close(t.done)
		_ = t.listener.Close()
		err = t.client.Close()
		if t.dir != "" {
			_ = os.RemoveAll(t.dir)
		} else {
			_ = os.Remove(t.localSocket)
		}
	})
	return err
}

// hostKeyChecker checks a host's key against one known_hosts file and keeps a clear error
// (the ssh library would bury it in "handshake failed: ...").
type hostKeyChecker struct {
	file, host, port string
	db               *knownhosts.HostKeyDB // nil when the file does not exist
	err              error
}

func newHostKeyChecker(file, host, port string) (*hostKeyChecker, error) {
	hk := &hostKeyChecker{file: file, host: host, port: port}
	db, err := knownhosts.NewDB(file)
	switch {
	case err == nil:
		hk.db = db
	case errors.Is(err, os.ErrNotExist):
	default:
		return nil, fmt.Errorf("reading known_hosts %s: %w", file, err)
	}
	return hk, nil
}

// algorithms restricts the handshake to the key types known for the host, so a host that
// also has keys of other types is not mistaken for a changed key.
func (hk *hostKeyChecker) algorithms(addr string) []string {
	if hk.db == nil {
		return nil
	}
	return hk.db.HostKeyAlgorithms(addr)
}

func (hk *hostKeyChecker) check(hostname string, remote net.Addr, key ssh.PublicKey) error {
	if hk.db == nil {
		hk.err = hk.unknown(key, " (the file does not exist)")
		return hk.err
	}
	err := hk.db.HostKeyCallback()(hostname, remote, key)
	if err == nil {
		return nil
	}
	var keyErr *xknownhosts.KeyError
	switch {
	case errors.As(err, &keyErr) && len(keyErr.Want) > 0:
		where := ""
		for _, w := range keyErr.Want {
			where += fmt.Sprintf(" %s:%d", w.Filename, w.Line)
		}
		hk.err = fmt.Errorf("host key mismatch for %s: it offered %s %s, but known_hosts holds another key for it (at%s); "+
			"this is a possible man-in-the-middle attack, or the host was reinstalled: verify the new key out of band before replacing that line",
			hk.host, key.Type(), ssh.FingerprintSHA256(key), where)
	case errors.As(err, &keyErr):
		hk.err = hk.unknown(key, "")
	default:
		hk.err = fmt.Errorf("checking the host key of %s against %s: %w", hk.host, hk.file, err)
	}
	return hk.err
}

func (hk *hostKeyChecker) unknown(key ssh.PublicKey, why string) error {
	return fmt.Errorf("the ssh host key of %s is not in %s%s; it offered %s %s. "+
		"After verifying that this is the host's key, add it with: ssh-keyscan -p %s %s >> %s",
		hk.host, hk.file, why, key.Type(), ssh.FingerprintSHA256(key), hk.port, hk.host, hk.file)
}

// authMethods uses the identity file when given, else the ssh agent and the usual default
// keys, like ssh does.
func authMethods(identity string) ([]ssh.AuthMethod, error) {
	if identity != "" {
		signer, err := loadKey(identity)
		if err != nil {
			return nil, err
		}
		return []ssh.AuthMethod{ssh.PublicKeys(signer)}, nil
	}
	var methods []ssh.AuthMethod
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
		if c, err := net.Dial("unix", sock); err == nil {
			methods = append(methods, ssh.PublicKeysCallback(agent.NewClient(c).Signers))
		}
	}
	var signers []ssh.Signer
	if home, err := os.UserHomeDir(); err == nil {
		for _, name := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			if s, err := loadKey(filepath.Join(home, ".ssh", name)); err == nil {
				signers = append(signers, s)
			}
		}
	}
	if len(signers) > 0 {
		methods = append(methods, ssh.PublicKeys(signers...))
	}
	if len(methods) == 0 {
		return nil, fmt.Errorf("no ssh identity: set the host's identity (a private key file) or run an ssh agent")
	}
	return methods, nil
}

func loadKey(path string) (ssh.Signer, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading ssh identity: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		return nil, fmt.Errorf("ssh identity %s is protected by a passphrase: load it into ssh-agent and leave identity unset", path)
	}
	if err != nil {
		return nil, fmt.Errorf("ssh identity %s: %w", path, err)
	}
	return signer, nil
}
