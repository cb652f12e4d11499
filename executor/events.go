// Package executor applies a Plan through the providers: it puts images and secrets on the
// hosts that need them, runs each service's waves (in parallel across hosts), waits for new
// tasks to be healthy before old ones stop, and reports progress as Events.
package executor

import (
	"fmt"
	"time"
)

// EventKind says what happened.
type EventKind string

const (
	EventImageBuild    EventKind = "image-build"     // an image is being built
	EventImageLoad     EventKind = "image-load"      // an image is being copied to a host
	EventReplan        EventKind = "replan"          // the hosts changed before the lock was held: planning again
	EventWave          EventKind = "wave"            // a service's wave starts
	EventTaskCreating  EventKind = "task-creating"   // a new task's container is being created
	EventTaskStarted   EventKind = "task-started"    // it runs; health is being checked
	EventTaskVerifying EventKind = "task-verifying"  // a task an earlier run started is being checked
	EventTaskWatching  EventKind = "task-watching"   // it passed its health check; it must stay healthy a while (min_healthy_time)
	EventTaskHealthy   EventKind = "task-healthy"    // it passed its health check; it counts now
	EventTaskFailed    EventKind = "task-failed"     // it did not start or did not become healthy
	EventTaskStopping  EventKind = "task-stopping"   // an old task is being stopped (SIGTERM)
	EventTaskStopped   EventKind = "task-stopped"    // it is stopped and removed
	EventTaskLeft      EventKind = "task-left"       // it could not be stopped (host unreachable)
	EventRoute         EventKind = "route"           // a service's route changed on the load balancers
	EventDraining      EventKind = "draining"        // old targets take no new requests; in-flight ones finish
	EventRetry         EventKind = "retry"           // a failed task is started again (the breaker has not tripped)
	EventBreaker       EventKind = "circuit-breaker" // too many tasks failed: the rollout stops
	EventServiceDone   EventKind = "service-done"    // every wave of the service succeeded
	EventServiceFailed EventKind = "service-failed"
)

// Event is one step of progress. Events are what a terminal, a CI log, a controller or a
// console consume; they never carry secret values.
type Event struct {
	Time    time.Time `json:"time"`
	Kind    EventKind `json:"kind"`
	Service string    `json:"service,omitempty"`
	Host    string    `json:"host,omitempty"`
	TaskID  string    `json:"task_id,omitempty"`
	Wave    int       `json:"wave,omitempty"`
	Message string    `json:"message,omitempty"`
}

func (e Event) String() string {
	s := string(e.Kind)
	if e.Service != "" {
		s += " service=" + e.Service
	}
	if e.Host != "" {
		s += " host=" + e.Host
	}
	if e.TaskID != "" {
		s += " task=" + e.TaskID
	}
	if e.Message != "" {
		s += fmt.Sprintf(" %s", e.Message)
	}
	return s
}
