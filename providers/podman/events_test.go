package podman

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/providers"
)

// follow opens an event stream for app (env "test") and fails the test if it cannot.
func follow(t *testing.T, ctx context.Context, h *Host, app string, since time.Time) (<-chan providers.Event, func() error) {
	t.Helper()
	ch, errf, err := h.Events(ctx, app, "test", since)
	require.NoError(t, err)
	return ch, errf
}

// until reads events until one is action for the container id, and returns every event
// read, that one last.
func until(t *testing.T, ch <-chan providers.Event, id, action string) []providers.Event {
	t.Helper()
	var seen []providers.Event
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			require.True(t, ok, "the stream closed before %s of %s; saw %v", action, id, actions(seen))
			seen = append(seen, ev)
			if ev.ContainerID == id && ev.Action == action {
				return seen
			}
		case <-timeout:
			t.Fatalf("no %s event for %s within 20s; saw %v", action, shortID(id), actions(seen))
		}
	}
}

func actions(evs []providers.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Action + " " + shortID(e.ContainerID)
	}
	return out
}

func TestEventsOfATaskThatExits(t *testing.T) {
	a, b := hosts(t)
	for _, h := range []*Host{a, b} {
		t.Run(h.Name(), func(t *testing.T) {
			ctx, cancel := context.WithCancel(testCtx(t))
			spec := jobSpec(unique("exit3"), "-exit", "3")
			app := spec.Labels[providers.LabelApp]
			ch, errf := follow(t, ctx, h, app, time.Time{})
			other := jobSpec(unique("other"), "-exit", "4") // another app: never in the stream
			run(t, h, other)
			task := run(t, h, spec)

			seen := until(t, ch, task.ContainerID, "died")
			t.Logf("events: %v", actions(seen))
			died := seen[len(seen)-1]
			assert.Equal(t, 3, died.ExitCode)
			assert.Equal(t, h.Name(), died.Host)
			assert.Equal(t, spec.Name, died.Name)
			assert.Equal(t, "web", died.Service)
			assert.Equal(t, spec.Name, died.TaskID)
			assert.Equal(t, app, died.App)
			assert.Equal(t, "test", died.Env)
			assert.Equal(t, "r1", died.Revision)
			for k, v := range spec.Labels {
				assert.Equal(t, v, died.Labels[k], "label %s", k)
			}
			for _, k := range eventAttributes {
				assert.NotContains(t, died.Labels, k, "Podman's own attributes are not labels")
			}
			assert.WithinDuration(t, time.Now(), died.Time, 10*time.Second, "the host's clock is this machine's")
			var order []string
			for _, e := range seen {
				assert.Equal(t, task.ContainerID, e.ContainerID, "only the app's container: %v", actions(seen))
				order = append(order, e.Action)
			}
			assert.Subset(t, order, []string{"create", "start", "died"})
			assert.True(t, sort.SliceIsSorted(seen, func(i, j int) bool { return seen[i].Time.Before(seen[j].Time) }), "in time order")

			cancel()
			for range ch {
			}
			assert.NoError(t, errf(), "a stream ended by its context has no error")
		})
	}
}

func TestEventsOfAKilledTask(t *testing.T) {
	a, b := hosts(t)
	for _, h := range []*Host{a, b} {
		t.Run(h.Name(), func(t *testing.T) {
			ctx := testCtx(t)
			var took []time.Duration
			for i := 0; i < 5; i++ {
				spec := taskSpec(unique("kill"), unique("app"))
				task := run(t, h, spec)
				ch, _ := follow(t, ctx, h, spec.Labels[providers.LabelApp], time.Time{})
				start := time.Now()
				require.NoError(t, containers.Kill(h.call(ctx), task.ContainerID, nil))
				seen := until(t, ch, task.ContainerID, "died")
				took = append(took, time.Since(start))
				assert.Equal(t, 137, seen[len(seen)-1].ExitCode, "SIGKILL")
			}
			sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
			t.Logf("timing: podman kill -> died event on %s: median %v (of %v)", h.Name(), took[len(took)/2], took)
		})
	}
}

func TestEventsSinceReplaysWhatWasMissed(t *testing.T) {
	h, _ := hosts(t)
	ctx := testCtx(t)
	spec := jobSpec(unique("replay"), "-exit", "5")
	app := spec.Labels[providers.LabelApp]
	live, _ := follow(t, ctx, h, app, time.Time{})
	task := run(t, h, spec)
	first := until(t, live, task.ContainerID, "died")

	// From just before the first event: everything again, in the same order.
	again, _ := follow(t, ctx, h, app, first[0].Time.Add(-time.Nanosecond))
	replayed := until(t, again, task.ContainerID, "died")
	assert.Equal(t, actions(first), actions(replayed))
	assert.Equal(t, first[len(first)-1], replayed[len(replayed)-1])

	// From the died event's time: nothing up to it again (since is exclusive), only what
	// follows (Podman's "cleanup" of the same container, then the marker's events).
	since := first[len(first)-1].Time
	after, _ := follow(t, ctx, h, app, since)
	markerSpec := jobSpec(unique("marker"), "-exit", "0")
	markerSpec.Labels[providers.LabelApp] = app
	marker := run(t, h, markerSpec)
	next := until(t, after, marker.ContainerID, "create")
	t.Logf("after the last event: %v", actions(next))
	for _, e := range next {
		assert.True(t, e.Time.After(since), "no event at or before since: %+v", e)
	}
}

func TestEventStreamEndsWhenTheServiceStops(t *testing.T) {
	h, _ := hosts(t)
	ctx := testCtx(t)
	ch, errf, err := h.Events(ctx, "", "", time.Time{})
	require.NoError(t, err)
	require.NoError(t, env.Stop(1))
	defer func() {
		require.NoError(t, env.Start(1))
		redialH1(t)
	}()
	select {
	case ev, ok := <-ch:
		require.False(t, ok, "no event expected, got %+v", ev)
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not close within 10s of the service stopping")
	}
	err = errf()
	assert.ErrorIs(t, err, providers.ErrUnreachable)
	assert.EqualError(t, err, "host h1 ("+env.Specs()[0].URL+"): following events: unreachable: the event stream ended (the Podman service closed it)")
}
