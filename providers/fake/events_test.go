package fake_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/fake"
)

func deckSpec(name, app string) providers.TaskSpec {
	return providers.TaskSpec{Name: name, Image: "img", Labels: providers.EncodeTaskLabels(
		providers.TaskMeta{App: app, Env: "prod", Service: "web", Revision: "r1", TaskID: name}, nil)}
}

// next reads one event, failing after a second.
func next(t *testing.T, ch <-chan providers.Event) providers.Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		require.True(t, ok, "the stream closed")
		return ev
	case <-time.After(time.Second):
		t.Fatal("no event within 1s")
		return providers.Event{}
	}
}

func actionsOf(t *testing.T, ch <-chan providers.Event, n int) []string {
	t.Helper()
	var out []string
	for i := 0; i < n; i++ {
		ev := next(t, ch)
		out = append(out, ev.Action+" "+ev.Name)
	}
	return out
}

func TestEventsFollowTheContainers(t *testing.T) {
	h := newHost(t)
	ctx, cancel := context.WithCancel(context.Background())
	ch, errf, err := h.Events(ctx, "shop", "prod", time.Time{})
	require.NoError(t, err)

	_, err = h.Run(ctx, deckSpec("other", "blog")) // another app: filtered out
	require.NoError(t, err)
	a, err := h.Run(ctx, deckSpec("a", "shop"))
	require.NoError(t, err)
	b, err := h.Run(ctx, deckSpec("b", "shop"))
	require.NoError(t, err)
	require.NoError(t, h.Stop(ctx, a.ContainerID, time.Second))
	require.NoError(t, h.Remove(ctx, a.ContainerID))
	require.NoError(t, h.Die(b.ContainerID, 3))
	assert.ErrorContains(t, h.Die(b.ContainerID, 3), "is exited, not running")

	assert.Equal(t, []string{"create a", "start a", "create b", "start b", "died a", "stop a", "remove a", "died b"},
		actionsOf(t, ch, 8))
	c, err := h.Run(ctx, deckSpec("c", "shop"))
	require.NoError(t, err)
	require.NoError(t, h.OOMKill(c.ContainerID))
	evs := []providers.Event{next(t, ch), next(t, ch), next(t, ch), next(t, ch)}
	assert.Equal(t, "oom", evs[2].Action)
	died := evs[3]
	assert.Equal(t, providers.Event{Time: died.Time, Host: "h1", Action: "died", ContainerID: c.ContainerID, Name: "c",
		App: "shop", Env: "prod", Service: "web", Revision: "r1", TaskID: "c", ExitCode: 137, Labels: died.Labels}, died)
	assert.True(t, evs[2].Time.Before(died.Time), "each event has its own instant")
	got, err := h.Inspect(ctx, c.ContainerID)
	require.NoError(t, err)
	assert.True(t, got.OOMKilled)
	assert.Equal(t, 137, got.ExitCode)

	cancel()
	_, open := <-ch
	assert.False(t, open)
	assert.NoError(t, errf(), "ended by its context")
}

func TestEventsSince(t *testing.T) {
	h := newHost(t)
	clock := fake.NewClock(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
	h.SetClock(clock.Now)
	ctx := context.Background()
	for _, n := range []string{"a", "b"} {
		_, err := h.Create(ctx, deckSpec(n, "shop"))
		require.NoError(t, err)
		clock.Advance(time.Second)
	}
	all, _, err := h.Events(ctx, "", "", time.Time{}.Add(time.Nanosecond))
	require.NoError(t, err)
	first := next(t, all)
	assert.Equal(t, "create a", first.Action+" "+first.Name, "from the beginning")
	ch, _, err := h.Events(ctx, "", "", first.Time)
	require.NoError(t, err)
	ev := next(t, ch)
	assert.Equal(t, "create b", ev.Action+" "+ev.Name, "since is exclusive")
}

func TestEventStreamsWhenTheHostGoesAway(t *testing.T) {
	h := newHost(t)
	ctx := context.Background()
	ch, errf, err := h.Events(ctx, "", "", time.Time{})
	require.NoError(t, err)
	h.SetDown(true)
	_, open := <-ch
	assert.False(t, open, "a host that goes down ends its streams")
	assert.ErrorIs(t, errf(), providers.ErrUnreachable)
	assert.EqualError(t, errf(), "host h1 (fake://h1): following events: unreachable: the event stream ended (connection reset)")
	_, _, err = h.Events(ctx, "", "", time.Time{})
	assert.ErrorIs(t, err, providers.ErrUnreachable)

	h.SetDown(false)
	quiet, _, err := h.Events(ctx, "", "", time.Time{})
	require.NoError(t, err)
	h.SetSilent(true)
	_, err = h.Now(ctx)
	assert.ErrorIs(t, err, providers.ErrUnreachable, "calls fail")
	h.SetSilent(false)
	live, _, err := h.Events(ctx, "", "", time.Time{})
	require.NoError(t, err)
	_, err = h.Create(ctx, deckSpec("a", "shop"))
	require.NoError(t, err)
	assert.Equal(t, "create", next(t, live).Action, "a new stream works")
	select {
	case ev := <-quiet:
		t.Fatalf("a silenced stream delivered %+v", ev)
	case <-time.After(50 * time.Millisecond): // nothing to wait for: its absence is the point
	}
}
