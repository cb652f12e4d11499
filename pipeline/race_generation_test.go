package pipeline

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
)

// Each host numbers its own generations of a service's desired-state record. Two deploys
// that each reach a different set of hosts (a laptop that cannot reach h2, then a CI
// runner that cannot reach h1) leave h1 with more, older generations: by generation
// alone, once both hosts answer again, the older write won and the controller healed to
// it. Records carry the deploy lock's epoch, which orders them across hosts.
func TestTheNewestDesiredStateWinsWhateverEachHostsGenerationCount(t *testing.T) {
	r := newRig(t, 2)
	ctx := context.Background()
	write := func(count int, epoch uint64) {
		t.Helper()
		s := r.session(t)
		defer s.Close()
		s.SetEpoch(epoch)
		require.NoError(t, WriteDesired(ctx, s, []manifest.ServiceSpec{webService(count)}, nil))
	}
	write(2, 6) // g1 on h1 and h2

	r.cloud.Host("h2").SetDown(true)
	write(3, 7) // h1: g2
	write(4, 7) // h1: g3
	r.cloud.Host("h2").SetDown(false)

	r.cloud.Host("h1").SetDown(true)
	write(5, 8) // h2: g2, under a later lock: the newest desired state
	r.cloud.Host("h1").SetDown(false)
	assert.Equal(t, 5, r.desiredCount(t), "the last write is the desired state")

	write(6, 0) // written without a lock, to both: each host's newest epoch, its next generation
	assert.Equal(t, 6, r.desiredCount(t))
}
