package podman

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/bindings/system"
	"github.com/containers/podman/v5/pkg/domain/entities/types"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
)

// Info reports the server's version and the host's total cpu (cpus*1024) and memory (MiB).
func (h *Host) Info(ctx context.Context) (providers.HostInfo, error) {
	cctx := h.call(ctx)
	info, err := system.Info(cctx, nil)
	if err != nil {
		return providers.HostInfo{}, h.wrap(cctx, "reading host info", err)
	}
	out := providers.HostInfo{}
	if info.Version.Version != "" {
		out.Version = info.Version.Version
	}
	if info.Host != nil {
		out.Capacity = manifest.Resources{
			CPU:    int64(info.Host.CPUs) * 1024,
			Memory: info.Host.MemTotal / (1024 * 1024),
		}
	}
	return out, nil
}

// List returns deck's containers of app and env (each filter only when non-empty),
// running or not.
func (h *Host) List(ctx context.Context, app, env string) ([]providers.Task, error) {
	labels := []string{providers.LabelManaged + "=true"}
	if app != "" {
		labels = append(labels, providers.LabelApp+"="+app)
	}
	if env != "" {
		labels = append(labels, providers.LabelEnv+"="+env)
	}
	opts := new(containers.ListOptions).WithAll(true).WithFilters(map[string][]string{"label": labels})
	cctx := h.call(ctx)
	list, err := containers.List(cctx, opts)
	if err != nil {
		return nil, h.wrap(cctx, "listing containers", err)
	}
	out := make([]providers.Task, 0, len(list))
	for _, c := range list {
		// Filters of the same key are ANDed by current servers; check again so an older
		// server that ORs them cannot leak another app's containers into the result.
		if !providers.Matches(c.Labels, app, env) {
			continue
		}
		out = append(out, taskFromList(c))
	}
	return out, nil
}

func taskFromList(c types.ListContainer) providers.Task {
	t := providers.TaskFromLabels(c.Labels)
	t.ContainerID = c.ID
	if len(c.Names) > 0 {
		t.Name = c.Names[0]
	}
	t.State = c.State
	if c.StartedAt > 0 {
		t.StartedAt = time.Unix(c.StartedAt, 0)
	}
	if c.ExitedAt > 0 && c.State != "running" {
		t.FinishedAt = time.Unix(c.ExitedAt, 0) // to the second: Inspect has it exactly
	}
	t.ExitCode = int(c.ExitCode)
	for _, p := range c.Ports {
		// A range maps Range consecutive ports; deck publishes single ports, but report
		// every port of a range so nothing observed is dropped.
		n := int(p.Range)
		if n < 1 {
			n = 1
		}
		for i := 0; i < n; i++ {
			t.Ports = append(t.Ports, providers.PortBinding{
				ContainerPort: int(p.ContainerPort) + i,
				HostPort:      int(p.HostPort) + i,
				HostIP:        hostIP(p.HostIP),
			})
		}
	}
	return t
}

// hostIP reports an unspecified bind address as 0.0.0.0, as the fake does.
func hostIP(ip string) string {
	if ip == "" {
		return "0.0.0.0"
	}
	return ip
}

// Create creates the container without starting it. A failed Create leaves nothing behind:
// when the call ends without an answer (deadline, Ctrl-C) the container may have been
// created all the same, so it is removed by name, best effort.
func (h *Host) Create(ctx context.Context, spec providers.TaskSpec) (providers.Task, error) {
	cctx := h.call(ctx)
	op := "creating container " + spec.Name
	s, err := specGenerator(spec)
	if err != nil {
		return providers.Task{}, h.fail(op, err)
	}
	created, err := containers.CreateWithSpec(cctx, s, nil)
	if err != nil {
		if apiStatus(err) == 0 && ctx.Err() != nil {
			h.discard(cctx, spec.Name)
		}
		return providers.Task{}, h.wrap(cctx, op, err)
	}
	t := providers.TaskFromLabels(spec.Labels)
	t.ContainerID, t.Name, t.State = created.ID, spec.Name, "created"
	return t, nil
}

// Start starts a created container and returns it with its ports bound. A container that
// fails to start is left for the caller to read and remove.
func (h *Host) Start(ctx context.Context, containerID string) (providers.Task, error) {
	cctx := h.call(ctx)
	if err := containers.Start(cctx, containerID, nil); err != nil {
		return providers.Task{}, h.wrap(cctx, "starting container "+shortID(containerID), err)
	}
	return h.Inspect(ctx, containerID)
}

// discard force-removes a container Create could not hand back. It uses a fresh context,
// as the caller's is what just ended, bounded by DialTimeout: a host that did not answer
// the create may not answer this either.
func (h *Host) discard(cctx context.Context, id string) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(cctx), providers.DialTimeout)
	defer cancel()
	_, _ = containers.Remove(rctx, id, new(containers.RemoveOptions).WithForce(true).WithVolumes(true))
}

// Inspect reads one container as a Task.
func (h *Host) Inspect(ctx context.Context, id string) (providers.Task, error) {
	cctx := h.call(ctx)
	data, err := containers.Inspect(cctx, id, nil)
	// Podman 4.3 reads /proc/PID/cgroup of a running container to inspect it; when the
	// process exits between its state check and that read, the API answers 500 "no such
	// process" (seen in CI). The container is fine: ask again, a few times.
	for try := 1; err != nil && try <= 3 && exitRace(err); try++ {
		select {
		case <-cctx.Done():
		case <-time.After(time.Duration(try) * 20 * time.Millisecond):
			data, err = containers.Inspect(cctx, id, nil)
		}
	}
	if err != nil {
		return providers.Task{}, h.wrap(cctx, "inspecting container "+shortID(id), err)
	}
	var labels map[string]string
	if data.Config != nil {
		labels = data.Config.Labels
	}
	t := providers.TaskFromLabels(labels)
	t.ContainerID = data.ID
	t.Name = data.Name
	if data.State != nil {
		t.State = data.State.Status
		t.StartedAt = data.State.StartedAt
		t.FinishedAt = data.State.FinishedAt
		t.ExitCode = int(data.State.ExitCode)
		t.OOMKilled = data.State.OOMKilled
		t.Error = data.State.Error
	}
	if data.NetworkSettings != nil {
		for port, binds := range data.NetworkSettings.Ports {
			var cport int
			if _, err := fmt.Sscanf(port, "%d/", &cport); err != nil {
				continue
			}
			for _, b := range binds {
				var hport int
				if _, err := fmt.Sscanf(b.HostPort, "%d", &hport); err != nil {
					continue
				}
				t.Ports = append(t.Ports, providers.PortBinding{ContainerPort: cport, HostPort: hport, HostIP: hostIP(b.HostIP)})
			}
		}
	}
	return t, nil
}

// Stop sends SIGTERM, waits up to timeout, then SIGKILL. A stopped container is not an error.
func (h *Host) Stop(ctx context.Context, containerID string, timeout time.Duration) error {
	cctx := h.call(ctx)
	opts := new(containers.StopOptions).WithTimeout(stopSeconds(timeout))
	err := containers.Stop(cctx, containerID, opts)
	if err != nil && strings.Contains(errorText(err), "paused") {
		// Podman 4.3 refuses to stop a paused (frozen) container ("is running or paused,
		// refusing to clean up"), which would keep a frozen task from being replaced. It
		// is thawed first, then stopped like any other: SIGTERM, then SIGKILL.
		if uerr := containers.Unpause(cctx, containerID, nil); uerr == nil {
			err = containers.Stop(cctx, containerID, opts)
		}
	}
	return h.wrap(cctx, "stopping container "+shortID(containerID), err)
}

// stopSeconds rounds a stop timeout up to whole seconds, at least 1: Podman counts in
// seconds, and 0 would skip SIGTERM's grace entirely.
func stopSeconds(d time.Duration) uint {
	s := math.Ceil(d.Seconds())
	if s < 1 {
		return 1
	}
	return uint(s)
}

// Remove deletes the container and its anonymous volumes. Like the fake, it does not refuse a
// running container: it is killed (deck stops tasks gracefully before removing them).
func (h *Host) Remove(ctx context.Context, containerID string) error {
	cctx := h.call(ctx)
	op := "removing container " + shortID(containerID)
	opts := new(containers.RemoveOptions).WithForce(true).WithVolumes(true).WithTimeout(0)
	reports, err := containers.Remove(cctx, containerID, opts)
	if err != nil {
		return h.wrap(cctx, op, err)
	}
	for _, r := range reports {
		if r.Err != nil {
			return h.wrap(cctx, op, r.Err)
		}
	}
	// A forced remove of a missing container succeeds with nothing removed.
	if len(reports) == 0 {
		return h.fail(op, providers.ErrNotFound)
	}
	return nil
}

// HealthCheck runs the container's healthcheck once. A container that is not running is
// unhealthy, not an error; one without a healthcheck is an error.
func (h *Host) HealthCheck(ctx context.Context, containerID string) (bool, error) {
	cctx := h.call(ctx)
	op := "checking the health of container " + shortID(containerID)
	res, err := containers.RunHealthCheck(cctx, containerID, nil)
	if err == nil {
		return res.Status == "healthy", nil
	}
	if isNotFound(err) || h.unreachable(cctx, err) != "" {
		return false, h.wrap(cctx, op, err)
	}
	t, ierr := h.Inspect(ctx, containerID)
	if ierr == nil && !t.Running() {
		return false, nil
	}
	return false, h.wrap(cctx, op, err)
}
