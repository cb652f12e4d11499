package fake

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/deckhq/deck/providers"
)

// addVolumes creates the spec's named volumes, as Podman does when it creates a container
// that mounts a volume it does not have. h.mu is held.
func (h *Host) addVolumes(spec providers.TaskSpec) {
	for _, v := range spec.Volumes {
		if v.Type == "volume" {
			h.volumes[v.Source] = true
		}
	}
}

// Volumes lists the host's named volumes, sorted.
func (h *Host) Volumes() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.volumes))
	for name := range h.volumes {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// RemoveVolume deletes a named volume unless a container (in any state) mounts it.
func (h *Host) RemoveVolume(_ context.Context, name string) error {
	if err := h.check("removing volume " + name); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.volumes[name] {
		return fmt.Errorf("volume %s: %w", name, providers.ErrNotFound)
	}
	var users []string
	for id, spec := range h.specs {
		for _, v := range spec.Volumes {
			if v.Type == "volume" && v.Source == name {
				users = append(users, h.containers[id].Name)
			}
		}
	}
	if len(users) > 0 {
		sort.Strings(users)
		return fmt.Errorf("volume %s is used by container(s) %s: %w", name, strings.Join(users, ", "), providers.ErrInUse)
	}
	h.Calls = append(h.Calls, "remove volume "+name)
	delete(h.volumes, name)
	return nil
}
