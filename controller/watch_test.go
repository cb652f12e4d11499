package controller

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWatchHostsDeliversDeathsAndTheHostGoingAndComingBack(t *testing.T) {
	r := newRig(t, 1)
	r.deploy(web(1))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan Event, 64)
	go WatchHosts(r.cloud, "shop", "prod")(ctx, r.env.Hosts[0], out)
	next := func(action string) Event {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case e := <-out:
				if e.Action == action {
					return e
				}
			case <-deadline:
				t.Fatalf("no %s event", action)
			}
		}
	}
	next(HostUp)
	task := r.running("web")["h1"][0]
	require.NoError(t, r.cloud.Host("h1").Stop(context.Background(), task.ContainerID, 0))
	e := next("died")
	assert.Equal(t, "web", e.Service)
	assert.Equal(t, task.ContainerID, e.ContainerID)

	r.cloud.Host("h1").SetDown(true)
	cut := time.Now()
	down := next(HostDown)
	assert.False(t, down.LastAnswer.IsZero(), "HostDown says when the host last answered")
	// A ping answered just as the host was cut is stamped a moment after the cut: the last
	// answer is at the cut at the latest, give or take that moment.
	assert.False(t, down.LastAnswer.After(cut.Add(250*time.Millisecond)), "that was not after the cut (%v, cut at %v)", down.LastAnswer, cut)
	assert.WithinDuration(t, cut, down.LastAnswer, pingEvery+time.Second, "the last ping, at most pingEvery before the cut")
	r.cloud.Host("h1").SetDown(false)
	next(HostUp)
}

func TestGraceCountsFromTheHostsLastAnswer(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	b := newHostBook(3*time.Second, func() time.Time { return now })
	// The watcher gave h1 up now, after a ping went unanswered for 2s; it last answered
	// 2.5s ago: 0.5s of the grace is left.
	b.down("h1", now.Add(-2500*time.Millisecond))
	assert.Equal(t, now.Add(500*time.Millisecond), b.graceEnds())
	// Without a last answer the grace starts now.
	b.down("h2", time.Time{})
	b.hosts["h1"].downSince = time.Time{}
	assert.Equal(t, now.Add(3*time.Second), b.graceEnds())
	// A read found h3 unreachable first; the watcher's HostDown then says it went silent
	// 2s before that read: the grace counts from the earlier moment.
	b.hosts["h2"].downSince = time.Time{}
	b.get("h3").downSince = now
	b.down("h3", now.Add(-2*time.Second))
	assert.Equal(t, now.Add(time.Second), b.graceEnds())
	// A HostDown whose last answer is later than the moment already known changes nothing.
	b.down("h3", now.Add(time.Second))
	assert.Equal(t, now.Add(time.Second), b.graceEnds())
}
