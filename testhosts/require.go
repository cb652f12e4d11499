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

// Require skips the test when real hosts cannot be started here (not root, or Podman
// missing and not installable). With CI=true it fails instead: CI must run these tests.
func Require(t testing.TB) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "the test hosts need root (network namespaces, podman as root)"
	} else {
		installOnce.Do(func() {
			if _, err := exec.LookPath("podman"); err == nil {
				if _, err := exec.LookPath("nsenter"); err == nil {
					return
				}
			}
			_, installErr = run("install")
		})
		if installErr != nil {
			why = "podman is not installed and could not be installed: " + installErr.Error()
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
