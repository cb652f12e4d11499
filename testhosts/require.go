package testhosts

import (
	"os"
	"os/exec"
	"sync"
	"testing"
)

var (
	installOnce sync.Once
	installErr  error
)

// Require skips the test when real hosts cannot be started here (not root, or Podman,
// Caddy or etcd missing and not installable). With CI=true it fails instead: CI must run these
// tests.
func Require(t testing.TB) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "the test hosts need root (network namespaces, podman as root)"
	} else {
		installOnce.Do(func() {
			if installed("podman", "nsenter", "caddy", "etcd") {
				return
			}
			_, installErr = run("install")
		})
		if installErr != nil {
			why = "podman, caddy or etcd is not installed and could not be installed: " + installErr.Error()
		}
	}
	if why == "" {
		return
	}
	unavailable(t, "real Podman hosts cannot run here", why)
}

// Program returns the path of a program the project's install step provides (hosts.sh
// install, which make deps runs: chromium for the console's browser tests), installing
// what is missing first, as Require does for Podman. A program still missing fails the
// test under CI=true and skips it elsewhere.
func Program(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if os.Geteuid() == 0 {
		installOnce.Do(func() { _, installErr = run("install") })
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	why := name + " is not installed"
	if installErr != nil {
		why += " and could not be installed: " + installErr.Error()
	}
	unavailable(t, name+" is missing", why)
	return ""
}

// unavailable fails the test under CI=true (CI must run it) and skips it elsewhere.
func unavailable(t testing.TB, what, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("testhosts: CI=true but %s: %s", what, why)
	}
	t.Skipf("testhosts: %s (set CI=true to make this a failure)", why)
}

func installed(programs ...string) bool {
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			return false
		}
	}
	return true
}
