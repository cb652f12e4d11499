package podman

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
)

// muxMain runs the mux a test's Dialer started (TestMain sends the test binary there).
func muxMain(js string) int {
	var spec MuxSpec
	if err := json.Unmarshal([]byte(js), &spec); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := ServeMux(context.Background(), spec); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// sharing returns a Dialer that shares ssh connections through muxes run by this test
// binary, with the muxes' sockets in a directory of the test's own.
func sharing(t *testing.T, persist time.Duration) Dialer {
	t.Helper()
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	exe, err := os.Executable()
	require.NoError(t, err)
	return Dialer{Persist: persist, MuxCommand: []string{exe}}
}

// waitFor polls cond every 20 ms until it holds or within has passed.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
	}
}

// muxServes says whether a mux answers for spec.
func muxServes(spec manifest.HostSpec) bool {
	return viaMux(context.Background(), spec) != ""
}

// sshLogins counts the logins the ssh host's sshd has accepted.
func sshLogins(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(env.Dir, "ssh", "sshd.log"))
	require.NoError(t, err)
	return strings.Count(string(data), "Accepted publickey")
}

// alive says whether the process runs. A mux is the test process's child and is not
// waited for (deck's command exits and leaves it to init), so a dead one stays a zombie.
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) STATE ...: the state follows the last ')'.
	rest := string(data[strings.LastIndexByte(string(data), ')')+1:])
	return !strings.HasPrefix(strings.TrimSpace(rest), "Z")
}

// muxPID is the process id a mux wrote into its lock file.
func muxPID(t *testing.T, spec manifest.HostSpec) int {
	t.Helper()
	sock, err := muxSocket(spec)
	require.NoError(t, err)
	data, err := os.ReadFile(sock + ".lock")
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	require.NoError(t, err)
	return pid
}

func TestMuxSharesOneSSHConnectionBetweenCommands(t *testing.T) {
	hosts(t)
	spec := env.Specs()[1]
	d := sharing(t, 2*time.Second)
	before := sshLogins(t)

	first, err := d.Dial(testCtx(t), spec)
	require.NoError(t, err)
	assert.NotNil(t, first.(*Host).tunnel, "the first command dials the host itself")
	require.NoError(t, first.Close())
	waitFor(t, 10*time.Second, "the mux the first command started answers", func() bool { return muxServes(spec) })

	for i := range 3 {
		h, err := d.Dial(testCtx(t), spec)
		require.NoError(t, err)
		host := h.(*Host)
		assert.Nil(t, host.tunnel, "command %d goes through the mux", i+2)
		assert.NotEmpty(t, host.mux)
		_, err = h.List(testCtx(t), "", "")
		require.NoError(t, err, "the host answers through the mux")
		require.NoError(t, h.Close())
	}
	assert.Equal(t, 2, sshLogins(t)-before, "one login for the first command, one for the mux; none for the next three")

	// Unused for Persist, the mux exits and takes its socket with it.
	sock, err := muxSocket(spec)
	require.NoError(t, err)
	waitFor(t, 10*time.Second, "the idle mux exits", func() bool {
		_, err := os.Stat(sock)
		return os.IsNotExist(err)
	})
	h, err := d.Dial(testCtx(t), spec)
	require.NoError(t, err)
	assert.NotNil(t, h.(*Host).tunnel, "with the mux gone the command dials the host itself")
	require.NoError(t, h.Close())
	waitFor(t, 10*time.Second, "a new mux", func() bool { return muxServes(spec) })
}

func TestMuxKilledLeavesASocketThatIsNotWaitedOn(t *testing.T) {
	hosts(t)
	spec := env.Specs()[1]
	d := sharing(t, time.Minute)
	h, err := d.Dial(testCtx(t), spec)
	require.NoError(t, err)
	require.NoError(t, h.Close())
	waitFor(t, 10*time.Second, "the mux answers", func() bool { return muxServes(spec) })
	pid := muxPID(t, spec)
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	waitFor(t, 10*time.Second, "the mux is gone", func() bool { return !alive(pid) })
	sock, err := muxSocket(spec)
	require.NoError(t, err)
	require.FileExists(t, sock, "a killed mux leaves its socket behind")

	start := time.Now()
	h, err = d.Dial(testCtx(t), spec)
	require.NoError(t, err)
	t.Logf("dial past a dead mux's socket: %v", time.Since(start))
	assert.NotNil(t, h.(*Host).tunnel, "the command dials the host itself")
	require.NoError(t, h.Close())
	// The mux that command started takes the socket over (the dead one's lock is free).
	waitFor(t, 10*time.Second, "a new mux serves the socket", func() bool { return muxServes(spec) })
	assert.NotEqual(t, pid, muxPID(t, spec))
	require.NoError(t, syscall.Kill(muxPID(t, spec), syscall.SIGTERM))
}

func TestTwoMuxesForOneHostLeaveOne(t *testing.T) {
	hosts(t)
	spec := env.Specs()[1]
	sharing(t, time.Minute)
	sock, err := muxSocket(spec)
	require.NoError(t, err)
	ms := MuxSpec{Host: spec, Socket: sock, Idle: time.Minute, HostTimeout: providers.DialTimeout}
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() { first <- ServeMux(ctx, ms) }()
	waitFor(t, 10*time.Second, "the first mux answers", func() bool { return muxServes(spec) })

	second := make(chan error, 1)
	go func() { second <- ServeMux(context.Background(), ms) }()
	select {
	case err := <-second:
		assert.NoError(t, err, "the second mux leaves the socket to the first and returns")
	case <-time.After(10 * time.Second):
		t.Fatal("the second mux did not return")
	}
	assert.True(t, muxServes(spec), "the first still serves")

	cancel()
	require.NoError(t, <-first)
	assert.NoFileExists(t, sock, "a mux that stops removes its socket")
	assert.NoFileExists(t, sock+".lock", "and its lock file")
}

func TestMuxExitsWhenItsHostIsCut(t *testing.T) {
	hosts(t)
	spec := env.Specs()[1]
	saved := providers.DialTimeout
	providers.DialTimeout = 2 * time.Second // the mux's keepalive: every 1s, 1s to answer
	t.Cleanup(func() { providers.DialTimeout = saved })
	d := sharing(t, time.Minute)
	h, err := d.Dial(testCtx(t), spec)
	require.NoError(t, err)
	require.NoError(t, h.Close())
	waitFor(t, 10*time.Second, "the mux answers", func() bool { return muxServes(spec) })
	pid := muxPID(t, spec)

	require.NoError(t, env.Partition(2))
	defer func() {
		require.NoError(t, env.Heal(2))
		redialH2(t)
	}()
	// Meanwhile a command neither waits on the mux nor treats it as the host: it dials
	// the host itself, which does not answer.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = d.Dial(ctx, spec)
	assert.ErrorIs(t, err, providers.ErrUnreachable)
	waitFor(t, 10*time.Second, "the mux notices the lost connection and exits", func() bool { return !alive(pid) })
	sock, err := muxSocket(spec)
	require.NoError(t, err)
	assert.NoFileExists(t, sock)
}

func TestMuxDirectoryMustBePrivate(t *testing.T) {
	base := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", base)
	require.NoError(t, os.Mkdir(filepath.Join(base, "deck"), 0o755))
	require.NoError(t, os.Chmod(filepath.Join(base, "deck"), 0o755))
	_, err := muxDir()
	assert.ErrorContains(t, err, "is not a private directory")
	spec := manifest.HostSpec{Name: "h", URL: "ssh://root@192.0.2.1/run/podman/podman.sock"}
	assert.Empty(t, viaMux(context.Background(), spec), "no mux is used from a directory others can enter")

	require.NoError(t, os.Chmod(filepath.Join(base, "deck"), 0o700))
	dir, err := muxDir()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(base, "deck"), dir)
}

func TestMuxSocketDependsOnTheKeysItWasCheckedAgainst(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	known := filepath.Join(t.TempDir(), "known_hosts")
	require.NoError(t, os.WriteFile(known, []byte("10.0.0.1 ssh-ed25519 AAAA1\n"), 0o600))
	spec := manifest.HostSpec{Name: "h", URL: "ssh://root@10.0.0.1/run/podman/podman.sock", KnownHosts: known}
	a, err := muxSocket(spec)
	require.NoError(t, err)
	b, err := muxSocket(spec)
	require.NoError(t, err)
	assert.Equal(t, a, b)
	require.NoError(t, os.WriteFile(known, []byte("10.0.0.1 ssh-ed25519 AAAA2\n"), 0o600))
	c, err := muxSocket(spec)
	require.NoError(t, err)
	assert.NotEqual(t, a, c, "a host set up again (a new key) gets a new connection")
	spec.Identity = "/other/key"
	d, err := muxSocket(spec)
	require.NoError(t, err)
	assert.NotEqual(t, c, d, "another identity, another connection")
}

func TestCloseOnExecAllMarksInheritedDescriptors(t *testing.T) {
	// Like a shell's `exec 9>file` that deck inherits: no close-on-exec flag.
	fd, err := syscall.Open(filepath.Join(t.TempDir(), "held"), syscall.O_CREAT|syscall.O_RDWR, 0o600)
	require.NoError(t, err)
	defer syscall.Close(fd)
	flags := func() int {
		r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0)
		require.Zero(t, errno)
		return int(r)
	}
	require.Zero(t, flags()&syscall.FD_CLOEXEC)
	closeOnExecAll()
	assert.NotZero(t, flags()&syscall.FD_CLOEXEC, "a mux started now would not inherit it")
}

func TestMuxGetsNoSecretsFromTheEnvironment(t *testing.T) {
	t.Setenv("DB_PASSWORD", "hunter2")
	t.Setenv("SSH_AUTH_SOCK", "/tmp/agent.sock")
	env := strings.Join(muxEnviron(), "\n")
	assert.NotContains(t, env, "hunter2", "a deploy's secret values do not outlive it in a mux")
	assert.Contains(t, env, "SSH_AUTH_SOCK=/tmp/agent.sock", "the mux authenticates as the command would")
}
