package providers

import (
	"context"
	"time"
)

// Event is one thing a host reported about one of deck's containers, or, for the
// synthetic actions EventHostUp and EventHostDown, about the connection to the host.
type Event struct {
	// Time is the host's time of the event, to the nanosecond (Podman's timeNano). For a
	// synthetic event it is this machine's time when the watcher noticed.
	Time        time.Time
	Host        string
	Action      string // Podman's status ("create", "start", "died", "oom", "stop", "remove", ...) or EventHostUp / EventHostDown
	ContainerID string
	Name        string // the container's name
	App         string
	Env         string
	Service     string
	Revision    string
	TaskID      string
	ExitCode    int               // for "died" (and "remove", when Podman knows it)
	Labels      map[string]string // the container's labels; shared, never modify
	// Reason says, for EventHostDown, why the connection was given up ("unreachable: ...").
	Reason string
}

// The synthetic actions a watcher (providers/watch) emits about a host's connection.
const (
	EventHostUp   = "host-up"   // the host's event stream is open (first connect, or back after EventHostDown)
	EventHostDown = "host-down" // the stream broke or the host stopped answering; events resume when it is up
)

// Events streams the events of deck's containers on one host.
type Events interface {
	// Events streams the events of deck's containers of app and env (each filter only when
	// non-empty; both empty: every deck container), from just after since (zero: from now),
	// in the order the host logged them. The stream runs until ctx ends or the connection
	// breaks; then the channel closes, and the returned func (call it only after the close)
	// says why: nil when ctx ended, else a HostError (wrapping ErrUnreachable when the
	// host went away). The caller must read the channel until it closes or end ctx.
	Events(ctx context.Context, app, env string, since time.Time) (<-chan Event, func() error, error)
}
