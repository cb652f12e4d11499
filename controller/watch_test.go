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
	next(HostDown)
	r.cloud.Host("h1").SetDown(false)
	next(HostUp)
}
