package planner

import (
	"fmt"
	"strings"
)

// Describe says a reason in English, as the human plan and event lines show it.
func Describe(r Reason) string {
	switch r.Code {
	case ReasonCount:
		s := fmt.Sprintf("count %d -> %d", r.From, r.To)
		if len(r.Hosts) > 0 {
			s += " (host " + strings.Join(r.Hosts, ", ") + " is unreachable)"
		}
		return s
	case ReasonNewRevision:
		was := r.WasRevision
		if was == "" {
			was = "no revision label"
		}
		head := fmt.Sprintf("new revision %s (was %s)", r.Revision, was)
		switch {
		case r.SpecUnreadable:
			return head + ": the running task carries no readable spec"
		case len(r.Fields) == 0:
			return head + ": same task definition, other revision id"
		}
		return head + ": " + strings.Join(r.Fields, ", ") + " changed"
	case ReasonDrift:
		return "drift from the spec: " + strings.Join(r.Fields, ", ")
	case ReasonNotRunning:
		st := r.State
		if st == "" {
			st = "unknown state"
		}
		if r.State == "exited" || r.State == "stopped" {
			st = fmt.Sprintf("%s, code %d", r.State, r.ExitCode)
		}
		return "task is not running (" + st + ")"
	case ReasonUnhealthy:
		return "task is unhealthy (" + r.Detail + ")"
	case ReasonStarting:
		return "started by an earlier run and not seen healthy (" + r.Detail + "): wait for its health check"
	case ReasonHostUnreachable:
		return "host " + strings.Join(r.Hosts, ", ") + " is unreachable"
	case ReasonShortfall:
		verb := "is"
		if len(r.Hosts) > 1 {
			verb = "are"
		}
		return fmt.Sprintf("%d of %d tasks seen; host %s %s unreachable, its tasks are replaced",
			r.From, r.To, strings.Join(r.Hosts, ", "), verb)
	case ReasonReplaced:
		return "replaced elsewhere while host " + strings.Join(r.Hosts, ", ") + " was unreachable: stale"
	case ReasonServiceDeleted:
		return "service deleted"
	case ReasonJobNew:
		if r.Detail != "" {
			return "new job (" + r.Detail + ")"
		}
		return "new job"
	case ReasonJobChanged:
		return strings.Join(r.Fields, ", ") + " changed"
	case ReasonNotARun:
		return "started as a service's task by an older deck; a job's runs start on its schedule"
	case ReasonRouteMissing:
		if r.Detail == routeNew {
			return "a new route: the service has none on this load balancer yet"
		}
		return "the load balancer has no route for the service: restore it"
	case ReasonRouteChanged:
		return strings.Join(r.Fields, ", ") + " changed"
	case ReasonRouteUnwanted:
		return "the service has no route any more"
	case ReasonTargetStale:
		return "registered, but " + r.Detail + ": deregister it"
	case ReasonTargetMissing:
		return "a serving task that is not registered"
	}
	return string(r.Code)
}
