package testhosts

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// StartEtcd starts a throwaway single-member etcd (Debian's etcd-server) on free ports of
// 127.0.0.1, through hosts.sh etcd-start, with its data in a test temp dir, and stops it
// when the test ends. It returns the client URL (http://127.0.0.1:PORT). It needs no
// hosts, so it takes no hosts lock: several test binaries may each run their own.
func StartEtcd(t testing.TB) string {
	t.Helper()
	RequireEtcd(t)
	dir := t.TempDir() // removed after the stop below (cleanups run last first)
	var lastErr error
	for range 3 { // a free port can be taken by another process before etcd binds it
		port, peer, err := freePorts()
		if err != nil {
			t.Fatalf("testhosts: %v", err)
		}
		out, err := run("etcd-start", "--dir", dir, "--port", strconv.Itoa(port), "--peer-port", strconv.Itoa(peer))
		if err == nil {
			t.Cleanup(func() {
				if _, err := run("etcd-stop", "--dir", dir); err != nil {
					t.Errorf("testhosts: %v", err)
				}
			})
			lines := strings.Split(strings.TrimSpace(out), "\n")
			return lines[len(lines)-1]
		}
		lastErr = err
	}
	t.Fatalf("testhosts: etcd did not start: %v", lastErr)
	return ""
}

// freePorts returns two ports of 127.0.0.1 that were free a moment ago.
func freePorts() (int, int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, 0, fmt.Errorf("finding a free port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports[0], ports[1], nil
}

// RequireEtcd skips the test when etcd is not installed and cannot be (installing needs
// root). With CI=true it fails instead: CI must run these tests.
func RequireEtcd(t testing.TB) {
	t.Helper()
	if installed("etcd") {
		return
	}
	why := "etcd is not installed (Debian's etcd-server) and installing it needs root"
	if os.Geteuid() == 0 {
		installOnce.Do(func() { _, installErr = run("install") })
		if installed("etcd") {
			return
		}
		why = "etcd is not installed and could not be installed"
		if installErr != nil {
			why += ": " + installErr.Error()
		}
	}
	unavailable(t, "etcd cannot run here", why)
}
