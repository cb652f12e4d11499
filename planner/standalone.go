package planner

import (
	"fmt"
	"slices"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner/state"
	"github.com/deckhq/deck/providers"
)

// PlaceTasks picks the hosts for n standalone tasks (deck task run) or a job's run, as a
// deploy places new tasks of a service: within free cpu and memory, the placement's
// constraints and host ports, spread (or binpacked) around the service's running tasks.
// Hosts named in exclude are not used (hosts that lack a secret the tasks need). It
// returns ErrCapacityUnknown when a host's capacity was not read: read it, and call again.
func PlaceTasks(snap *state.Snapshot, service string, placement manifest.Placement, td manifest.TaskDef, n int, exclude map[string]bool) ([]string, error) {
	hosts := slices.Clone(snap.Hosts())
	for i := range hosts {
		if exclude[hosts[i].Name] && hosts[i].Reachable {
			hosts[i].Reachable, hosts[i].Err = false, "excluded"
		}
	}
	c := newCluster(hosts, snap.EachTask())
	// Spread places around the service's running tasks; a job's runs run one after
	// another, so its kept runs count too: each next run goes where fewer ran, rather
	// than always to the first host.
	var around []state.TaskState
	for t := range snap.EachTask() {
		if t.Service == service && t.HostReachable && (t.Running() || t.Meta.Kind == providers.KindJobRun) {
			around = append(around, t)
		}
	}
	p, err := newPlacer(c, manifest.ServiceSpec{Name: service, Placement: placement}, td, around)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, n)
	for i := 1; i <= n; i++ {
		slot, err := p.place(i, n)
		if c.capacityWanted {
			return nil, ErrCapacityUnknown
		}
		if err != nil {
			if len(exclude) > 0 {
				err = fmt.Errorf("%w (hosts that lack its secrets count as unreachable)", err)
			}
			return nil, err
		}
		out = append(out, c.hosts[slot].Name)
	}
	return out, nil
}

// serviceTasks drops the containers of a service that are not its tasks: standalone tasks
// (deck task run), which run to their end, and a job's runs. The count includes neither.
// When all are its tasks (the usual case), tasks itself is returned, not a copy.
func serviceTasks(tasks []state.TaskState) []state.TaskState {
	if !slices.ContainsFunc(tasks, func(t state.TaskState) bool { return t.Meta.Kind != "" }) {
		return tasks
	}
	out := tasks[:0:0]
	for _, t := range tasks {
		if t.Meta.Kind == "" {
			out = append(out, t)
		}
	}
	return out
}
