package pipeline

import (
	"context"
	"slices"
	"sort"
	"sync"

	"github.com/deckhq/deck/executor"
	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner"
	"github.com/deckhq/deck/providers"
)

// Removing a service leaves its named volumes, and their data, on the hosts: deck delete
// removes them only when asked (--volumes), once the service's tasks are gone.

// NamedVolumes returns the named volumes among vols (a task definition's; bind mounts are
// left out) as the hosts name them, sorted, each once. The names are the executor's own.
func NamedVolumes(app, env string, vols []manifest.Volume) []string {
	spec := executor.TaskSpec(executor.TaskInput{App: app, Env: env, Rev: planner.Revision{Task: manifest.TaskDef{Volumes: vols}}})
	var out []string
	for _, v := range spec.Volumes {
		if v.Type == "volume" && !slices.Contains(out, v.Source) {
			out = append(out, v.Source)
		}
	}
	sort.Strings(out)
	return out
}

// MountedVolumes returns the volumes the service's tasks mount, as their labels recorded
// them at the last read: what a service whose manifest is gone used.
func (s *Session) MountedVolumes(service string) []manifest.Volume {
	var out []manifest.Volume
	for _, h := range s.Obs.Hosts {
		for _, t := range h.Tasks {
			if t.Service == service && t.Meta.Spec != nil {
				out = append(out, t.Meta.Spec.Volumes...)
			}
		}
	}
	return out
}

// VolumeRemoval is what removing one volume from one host did.
type VolumeRemoval struct {
	Host, Volume string
	// Err is nil when the volume was removed; it wraps providers.ErrNotFound when the host
	// had none, providers.ErrInUse when a container there still uses it.
	Err error
}

// RemoveVolumes removes each of the named volumes from every connected host, the hosts at
// once. Hosts that are not connected are not tried: see s.Obs.
func RemoveVolumes(ctx context.Context, s *Session, names []string) []VolumeRemoval {
	var mu sync.Mutex
	var out []VolumeRemoval
	forHosts(s, func(h providers.Host) {
		for _, name := range names {
			cctx, cancel := context.WithTimeout(ctx, s.T.HostTimeout)
			r := VolumeRemoval{Host: h.Name(), Volume: name, Err: h.RemoveVolume(cctx, name)}
			cancel()
			mu.Lock()
			out = append(out, r)
			mu.Unlock()
		}
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].Volume != out[j].Volume {
			return out[i].Volume < out[j].Volume
		}
		return out[i].Host < out[j].Host
	})
	return out
}
