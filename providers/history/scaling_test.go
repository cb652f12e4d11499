package history

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestScalingActionsAreInTheAuditTrail(t *testing.T) {
	c := newCluster(t, 3)
	s := c.store()
	ctx := context.Background()
	create(t, s, rev("web", "img:1"))
	c.advance(time.Minute)
	out, err := s.RecordScaling(ctx, Scaling{Service: "web", From: 2, To: 4, Who: "controller@ops-1",
		Reason: "(service web) scaled out from 2 to 4 tasks: cpu 145% of target 70%"})
	require.NoError(t, err)
	assert.Equal(t, base.Add(time.Minute), out.Time, "a host's clock")
	c.advance(3 * time.Minute)
	_, err = s.RecordScaling(ctx, Scaling{Service: "web", From: 4, To: 3, Who: "controller@ops-1",
		Reason: "(service web) scaled in from 4 to 3 tasks: cpu 20% of target 70%"})
	require.NoError(t, err)

	events, err := s.Audit(ctx)
	require.NoError(t, err)
	require.Len(t, events, 3)
	assert.Equal(t, EventDeploy, events[0].Kind)
	assert.Equal(t, Event{Time: base.Add(time.Minute), Kind: EventScaleOut, Service: "web", Who: "controller@ops-1",
		Text: "(service web) scaled out from 2 to 4 tasks: cpu 145% of target 70%"}, events[1])
	assert.Equal(t, EventScaleIn, events[2].Kind)
	assert.Equal(t, base.Add(4*time.Minute), events[2].Time)

	entries := list(t, s, "web")
	assert.Len(t, entries, 1, "a service's revisions are read without its scaling records")
	_, err = s.RecordScaling(ctx, Scaling{Service: "web", From: 3, To: 3})
	assert.Error(t, err, "no change is no action")
}

func TestOnlyTheNewestScalingActionsAreKept(t *testing.T) {
	c := newCluster(t, 2)
	s := c.store()
	ctx := context.Background()
	for i := range KeepScalings + 5 {
		c.advance(time.Minute)
		_, err := s.RecordScaling(ctx, Scaling{Service: "web", From: 1 + i%2, To: 2 - i%2, Reason: "step " + string(rune('a'+i%26))})
		require.NoError(t, err)
	}
	for i := range c.hosts {
		n := 0
		for _, r := range c.records(t, i) {
			if strings.HasPrefix(r.Name, scalingPrefix("shop", "prod", "web")) {
				n++
			}
		}
		assert.Equal(t, KeepScalings, n, "host %d", i+1)
	}
	events, err := s.Audit(ctx)
	require.NoError(t, err)
	require.Len(t, events, KeepScalings)
	assert.Equal(t, base.Add(6*time.Minute), events[0].Time, "the oldest five went")
}
