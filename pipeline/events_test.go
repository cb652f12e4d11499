package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServiceEventsKeepTheNewestPerService(t *testing.T) {
	r := newRig(t, 2)
	s := r.session(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 21, 18, 0, 0, 0, time.UTC)
	require.NoError(t, WriteServiceEvent(ctx, s, "web", ServiceEvent{Time: at, Message: "(service web) failed to start tasks", Reason: "exited (code 3)", Failures: 1}))
	require.NoError(t, WriteServiceEvent(ctx, s, "web", ServiceEvent{Time: at.Add(time.Minute), Message: "(service web) is unable to consistently start tasks successfully.", Reason: "exited (code 3)", Failures: 2}))
	require.NoError(t, WriteServiceEvent(ctx, s, "api", ServiceEvent{Time: at, Message: "(service api) has reached a steady state."}))
	r.cloud.Host("h1").SetDown(true) // one host is enough to read them
	got := ReadServiceEvents(ctx, r.session(t))
	assert.Equal(t, "(service web) is unable to consistently start tasks successfully.", got["web"].Message)
	assert.Equal(t, 2, got["web"].Failures)
	assert.Equal(t, at.Add(time.Minute), got["web"].Time)
	assert.Equal(t, "(service api) has reached a steady state.", got["api"].Message)
}
