package podman

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/containers/podman/v5/libpod/define"
	"github.com/containers/podman/v5/pkg/bindings/containers"

	"github.com/deckhq/deck/providers"
)

// Stats reads each container once, in one call (Stream=false). Podman 4.3 fails the whole
// call when one of the containers is gone or not running, and its answer loses the
// reason (checked: {"Error":{},"Stats":null}); the containers are then read one by one,
// and one whose read fails is inspected: gone or not running, it is left out.
//
// Only the counters are kept: the server's own CPU percent of a one-shot reading is the
// average since the container started (checked on 4.3.1: 95% for a task busy for 3s), not
// the load now; providers.CPURate takes the difference of two readings instead.
func (h *Host) Stats(ctx context.Context, ids []string) ([]providers.TaskStats, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	out, err := h.stats(ctx, ids)
	if err == nil || errors.Is(err, providers.ErrUnreachable) {
		return out, err
	}
	return h.statsEach(ctx, ids)
}

// statsEach reads the containers one by one, 8 at a time, leaving out those gone or
// stopped.
func (h *Host) statsEach(ctx context.Context, ids []string) ([]providers.TaskStats, error) {
	var mu sync.Mutex
	var out []providers.TaskStats
	var errs []error
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, id := range ids {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			one, err := h.stats(ctx, []string{id})
			if err != nil && h.goneOrStopped(ctx, id) {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			out = append(out, one...)
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return out, errs[0]
	}
	return out, nil
}

// goneOrStopped inspects a container whose stats could not be read.
func (h *Host) goneOrStopped(ctx context.Context, id string) bool {
	t, err := h.Inspect(ctx, id)
	return errors.Is(err, providers.ErrNotFound) || (err == nil && !t.Running())
}

// stats is one call.
func (h *Host) stats(ctx context.Context, ids []string) ([]providers.TaskStats, error) {
	op := fmt.Sprintf("reading the stats of %d containers", len(ids))
	if len(ids) == 1 {
		op = "reading the stats of container " + shortID(ids[0])
	}
	cctx := h.call(ctx)
	ch, err := containers.Stats(cctx, ids, new(containers.StatsOptions).WithStream(false))
	var out []providers.TaskStats
	if err == nil {
		// Drain the channel: the bindings' reader sends one report, then closes it.
		for r := range ch {
			if r.Error != nil {
				err = r.Error
				continue
			}
			for _, s := range r.Stats {
				// 4.3 answers a lone stopped container with a reading of zeros, no error.
				if s.SystemNano != 0 {
					out = append(out, taskStats(s))
				}
			}
		}
	}
	return out, h.wrap(cctx, op, err)
}

func taskStats(s define.ContainerStats) providers.TaskStats {
	return providers.TaskStats{
		ContainerID: s.ContainerID,
		CPUTime:     time.Duration(s.CPUNano),
		At:          time.Unix(0, int64(s.SystemNano)),
		MemoryBytes: s.MemUsage, MemoryLimitBytes: s.MemLimit,
	}
}
