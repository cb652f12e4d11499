package autoscale

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/deckhq/deck/providers"
)

// SampleStats reads the stats of the service's running tasks, every host at once, and
// keeps the service's CPU and memory percent at now: each the average over the tasks
// that could be read. A task's CPU needs two of its readings (see providers.CPURate), so
// a new task counts from its second reading on.
func (s *Sampler) SampleStats(ctx context.Context, now time.Time) {
	tasks := s.src.Tasks()
	readings, problems := s.readStats(ctx, tasks)
	s.mu.Lock()
	defer s.mu.Unlock()
	var cpu, mem []float64
	live := map[string]bool{}
	for _, t := range tasks {
		r, ok := readings[t.ContainerID]
		if !ok {
			continue
		}
		live[t.ContainerID] = true
		if prev, seen := s.prev[t.ContainerID]; seen {
			if rate, ok := providers.CPURate(prev, r); ok {
				if pct, ok := providers.CPUPercent(rate, t.CPU); ok {
					cpu = append(cpu, pct)
				}
			}
		}
		if pct, ok := providers.MemoryPercent(r, t.MemoryMiB); ok {
			mem = append(mem, pct)
		}
		s.prev[t.ContainerID] = r
	}
	for id := range s.prev {
		if !live[id] {
			delete(s.prev, id) // stopped, or unread this time: its next rate starts afresh
		}
	}
	why := strings.Join(problems, "; ")
	switch {
	case len(tasks) == 0:
		why = "no task is running"
	case why == "" && len(readings) == 0:
		why = "no running task could be read"
	}
	cpuWhy := why
	if cpuWhy == "" {
		cpuWhy = "a CPU rate takes two readings of a task"
	}
	v, ok := mean(cpu)
	s.cpu.add(now, v, ok, cpuWhy)
	v, ok = mean(mem)
	s.mem.add(now, v, ok, why)
}

// readStats reads the tasks' stats, host by host in parallel, and says which hosts could
// not be read and why.
func (s *Sampler) readStats(ctx context.Context, tasks []Task) (map[string]providers.TaskStats, []string) {
	byHost := map[string][]string{}
	for _, t := range tasks {
		byHost[t.Host] = append(byHost[t.Host], t.ContainerID)
	}
	out := map[string]providers.TaskStats{}
	var problems []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	for host, ids := range byHost {
		wg.Go(func() {
			var list []providers.TaskStats
			err := fmt.Errorf("host %s is not connected", host)
			if h := s.src.Host(host); h != nil {
				list, err = h.Stats(ctx, ids)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, r := range list {
				out[r.ContainerID] = r
			}
			if err != nil {
				problems = append(problems, err.Error())
			}
		})
	}
	wg.Wait()
	sort.Strings(problems)
	return out, problems
}

// SampleInFlight reads every load balancer's requests in flight and keeps, at now, the
// service's average per task: the requests in flight to its tasks, summed over the
// balancers, divided by the tasks registered with any of them. A balancer that cannot be
// read spoils the reading (its share would be missing from the sum, which would read as
// less load).
func (s *Sampler) SampleInFlight(ctx context.Context, now time.Time) {
	tasks, bals := s.src.Tasks(), s.src.Balancers()
	counts, err := readInFlight(ctx, bals)
	total, registered := 0, 0
	for _, t := range tasks {
		if t.Address == "" {
			continue
		}
		seen := false
		for _, c := range counts {
			n, ok := c[t.Address]
			total, seen = total+n, seen || ok
		}
		if seen {
			registered++
		}
	}
	why := ""
	switch {
	case len(bals) == 0:
		why = "the environment has no load balancer"
	case err != nil:
		why = err.Error()
	case registered == 0:
		why = "no task of the service is registered with a load balancer"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.req.add(now, float64(total)/float64(max(registered, 1)), why == "", why)
}

func readInFlight(ctx context.Context, bals []InFlightReader) ([]map[string]int, error) {
	counts := make([]map[string]int, len(bals))
	errs := make([]error, len(bals))
	var wg sync.WaitGroup
	for i, b := range bals {
		wg.Go(func() { counts[i], errs[i] = b.InFlight(ctx) })
	}
	wg.Wait()
	return counts, errors.Join(errs...)
}

func mean(vs []float64) (float64, bool) {
	if len(vs) == 0 {
		return 0, false
	}
	sum := 0.0
	for _, v := range vs {
		sum += v
	}
	return sum / float64(len(vs)), true
}
