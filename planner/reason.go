package planner

// ReasonCode says why a change is in the plan. The executor and tools (a CI summary, the
// console) switch on it; the English is made from it only when rendering.
type ReasonCode string

const (
	// ReasonCount: the desired count differs from the tasks seen (From seen, To desired).
	ReasonCount ReasonCode = "count"
	// ReasonNewRevision: the task runs another revision (WasRevision); Fields changed.
	ReasonNewRevision ReasonCode = "new_revision"
	// ReasonDrift: same revision id, but the task's recorded definition differs in Fields.
	ReasonDrift ReasonCode = "drift"
	// ReasonNotRunning: the container is not running (State, ExitCode).
	ReasonNotRunning ReasonCode = "not_running"
	// ReasonUnhealthy: it runs but failed its health check past its deadline (Detail).
	ReasonUnhealthy ReasonCode = "unhealthy"
	// ReasonStarting: an earlier run started it and deck has not seen it healthy (Detail).
	ReasonStarting ReasonCode = "starting"
	// ReasonHostUnreachable: its host did not answer (Hosts); it is replaced elsewhere.
	ReasonHostUnreachable ReasonCode = "host_unreachable"
	// ReasonShortfall: fewer tasks seen than desired while Hosts could not be read.
	ReasonShortfall ReasonCode = "shortfall"
	// ReasonReplaced: a task that was replaced elsewhere while its host was unreachable
	// (Hosts); the host is back, so it is stale and stopped.
	ReasonReplaced ReasonCode = "replaced"
	// ReasonServiceDeleted: deck delete.
	ReasonServiceDeleted ReasonCode = "service_deleted"
)

// Reason is a change's typed cause: a code and the facts behind it.
type Reason struct {
	Code        ReasonCode `json:"code"`
	From        int        `json:"from,omitempty"`
	To          int        `json:"to,omitempty"`
	WasRevision string     `json:"was_revision,omitempty"`
	Revision    string     `json:"revision,omitempty"`
	// Fields are the task definition fields that changed (new_revision, drift); for a
	// new revision whose running task carries no readable spec, SpecUnreadable is set.
	Fields         []string `json:"fields,omitempty"`
	SpecUnreadable bool     `json:"spec_unreadable,omitempty"`
	State          string   `json:"state,omitempty"`
	ExitCode       int      `json:"exit_code,omitempty"`
	Hosts          []string `json:"hosts,omitempty"`
	Detail         string   `json:"detail,omitempty"`
}
