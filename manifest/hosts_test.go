package manifest

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestValidAddress(t *testing.T) {
	for a, want := range map[string]bool{
		"10.0.0.5": true, "fd00::1": true, "web-1.example.com": true, "node3": true, "host.local.": true,
		"10.0.0.5:8080": false, "http://web": false, "-web": false, "web_1": false, "": false, "[fd00::1]": false,
	} {
		assert.Equal(t, want, validAddress(a), a)
	}
}

func TestEndpoint(t *testing.T) {
	assert.Equal(t, endpoint("ssh://deck@Node3/run/podman/podman.sock"), endpoint("ssh://deck@node3:22/run/podman/podman.sock/"))
	assert.NotEqual(t, endpoint("ssh://deck@node3/run/podman/podman.sock"), endpoint("ssh://core@node3/run/podman/podman.sock"),
		"each user has a Podman of their own")
}
