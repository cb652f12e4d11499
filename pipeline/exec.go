package pipeline

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner/state"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/health"
)

// ExecTarget picks the task deck exec runs a command in: the running task of service whose
// id is (or starts with) taskID, or, without one, the first healthy task of the service
// (by host, then task id, so the same fleet gives the same pick). The session must have
// been read with health (OpenRead).
func ExecTarget(s *Session, service, taskID string) (providers.Task, error) {
	var running []providers.Task
	for _, ho := range s.Obs.Hosts {
		for _, t := range ho.Tasks {
			if t.Service == service && t.Meta.Kind == "" && t.Running() {
				running = append(running, t)
			}
		}
	}
	sort.Slice(running, func(i, j int) bool {
		if running[i].Host != running[j].Host {
			return running[i].Host < running[j].Host
		}
		return running[i].TaskID < running[j].TaskID
	})
	if len(running) == 0 {
		if known := servicesOnHosts(s); !known[service] {
			return providers.Task{}, fmt.Errorf("no service %s has tasks in app %s, environment %s%s%s",
				service, s.T.App.Name, s.T.Env.Name, serviceList(service, known), unreachableNote(s))
		}
	}
	var ids []string
	for _, t := range running {
		ids = append(ids, t.TaskID+" on "+t.Host)
	}
	if taskID != "" {
		var found []providers.Task
		for _, t := range running {
			if strings.HasPrefix(t.TaskID, taskID) {
				found = append(found, t)
			}
		}
		switch len(found) {
		case 1:
			return found[0], nil
		case 0:
			return providers.Task{}, fmt.Errorf("service %s has no running task %s%s", service, taskID, runningList(ids))
		default:
			return providers.Task{}, fmt.Errorf("task %s of service %s is ambiguous: it starts %d task ids%s", taskID, service, len(found), runningList(ids))
		}
	}
	for _, t := range running {
		if s.Health[state.TaskID(t.Host, t.ContainerID)].State == health.StateHealthy {
			return t, nil
		}
	}
	if len(running) == 0 {
		return providers.Task{}, fmt.Errorf("service %s has no running task%s", service, unreachableNote(s))
	}
	return providers.Task{}, fmt.Errorf("service %s has no healthy task; name one with --task%s", service, runningList(ids))
}

// servicesOnHosts are the services with tasks (of any state) on the reachable hosts.
func servicesOnHosts(s *Session) map[string]bool {
	out := map[string]bool{}
	for _, ho := range s.Obs.Hosts {
		for _, t := range ho.Tasks {
			if t.Service != "" && t.Meta.Kind == "" {
				out[t.Service] = true
			}
		}
	}
	return out
}

// serviceList names the services that have tasks, suggesting the one service likely
// meant.
func serviceList(service string, known map[string]bool) string {
	if len(known) == 0 {
		return " (no service has)"
	}
	names := make([]string, 0, len(known))
	for n := range known {
		names = append(names, n)
	}
	sort.Strings(names)
	hint := ""
	if best := manifest.Suggest(service, names); best != "" {
		hint = fmt.Sprintf("; did you mean %q?", best)
	}
	return fmt.Sprintf("%s (services with tasks: %s)", hint, strings.Join(names, ", "))
}

func runningList(ids []string) string {
	if len(ids) == 0 {
		return " (it has none running)"
	}
	return " (running: " + strings.Join(ids, ", ") + ")"
}

func unreachableNote(s *Session) string {
	var down []string
	for _, ho := range s.Obs.Hosts {
		if !ho.Reachable {
			down = append(down, ho.Spec.Name)
		}
	}
	if len(down) == 0 {
		return ""
	}
	return " on the reachable hosts (unreachable: " + strings.Join(down, ", ") + ")"
}

// Exec runs req in task's container, through the session's connection to its host, and
// returns the command's exit code.
func Exec(ctx context.Context, s *Session, task providers.Task, req providers.ExecRequest) (int, error) {
	h := s.Fleet.Host(task.Host)
	if h == nil {
		return -1, fmt.Errorf("host %s of task %s is not connected", task.Host, task.TaskID)
	}
	return h.Exec(ctx, task.ContainerID, req)
}
