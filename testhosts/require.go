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
	if os.Getenv("CI") == "true" {
		t.Fatalf("testhosts: CI=true but real Podman hosts cannot run here: %s", why)
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
