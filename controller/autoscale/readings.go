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

// Reading is what the latest readings saw of one task: its last stats, its CPU rate
// between its last two, and its requests in flight. The controller judges a service by
// the window's averages (Metrics); a live view (deck top) shows these.
type Reading struct {
	Task Task
	// Stats is the task's last stats reading; Read is false when it has none (its host
	// could not be read: StatsErr says why; or it stopped).
	Stats    providers.TaskStats
	Read     bool
	StatsErr error
	// VCPUs is the CPU it used between its last two readings (1 = one core busy); CPUOK
	// is false until it has two (see providers.CPURate).
	VCPUs float64
	CPUOK bool
	// InFlight is its requests in flight, summed over the balancers; InFlightOK is false
	// when no balancer could be read that routes to it (InFlightErr says why when one
	// could not be read).
	InFlight    int
	InFlightOK  bool
	InFlightErr error
}

// Readings returns the latest reading of each of the source's tasks, in its order.
func (s *Sampler) Readings() []Reading {
	tasks := s.src.Tasks()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Reading, 0, len(tasks))
	for _, t := range tasks {
		r := Reading{Task: t}
		if last := s.last[t.ContainerID]; last != nil {
			r = *last
			r.Task = t
		}
		out = append(out, r)
	}
	return out
}

// reading is the task's entry in last, made on first use.
func (s *Sampler) reading(t Task) *Reading {
	r := s.last[t.ContainerID]
	if r == nil {
		r = &Reading{Task: t}
		s.last[t.ContainerID] = r
	}
	return r
}

// SampleStats reads the stats of the service's running tasks, every host at once, and
// keeps the service's CPU and memory percent at now: each the average over the tasks
// that could be read. A task's CPU needs two of its readings (see providers.CPURate), so
// a new task counts from its second reading on.
func (s *Sampler) SampleStats(ctx context.Context, now time.Time) {
	tasks := s.src.Tasks()
	readings, hostErrs := s.readStats(ctx, tasks)
	s.mu.Lock()
	defer s.mu.Unlock()
	var cpu, mem []float64
	live := map[string]bool{}
	for _, t := range tasks {
		last := s.reading(t)
		live[t.ContainerID] = true
		r, ok := readings[t.ContainerID]
		last.Read, last.StatsErr, last.CPUOK = ok, hostErrs[t.Host], false
		if !ok {
			last.Stats, last.VCPUs = providers.TaskStats{}, 0
			continue
		}
		last.Stats = r
		if prev, seen := s.prev[t.ContainerID]; seen {
			if rate, ok := providers.CPURate(prev, r); ok {
				last.VCPUs, last.CPUOK = rate, true
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
		if _, read := readings[id]; !read || !live[id] {
			delete(s.prev, id) // stopped, or unread this time: its next rate starts afresh
		}
	}
	for id := range s.last {
		if !live[id] {
			delete(s.last, id)
		}
	}
	var problems []string
	for _, err := range hostErrs {
		problems = append(problems, err.Error())
	}
	sort.Strings(problems)
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
	s.cpu.add(now, v, ok, cpuWhy, s.cfg.Window)
	v, ok = mean(mem)
	s.mem.add(now, v, ok, why, s.cfg.Window)
}

// readStats reads the tasks' stats, host by host in parallel, each within HostTimeout,
// and says which hosts could not be read and why.
func (s *Sampler) readStats(ctx context.Context, tasks []Task) (map[string]providers.TaskStats, map[string]error) {
	byHost := map[string][]string{}
	for _, t := range tasks {
		byHost[t.Host] = append(byHost[t.Host], t.ContainerID)
	}
	out := map[string]providers.TaskStats{}
	problems := map[string]error{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for host, ids := range byHost {
		wg.Go(func() {
			var list []providers.TaskStats
			err := fmt.Errorf("host %s is not connected", host)
			if h := s.src.Host(host); h != nil {
				list, err = bounded(ctx, s.cfg.HostTimeout, "host "+host+": reading the stats of containers",
					func(ctx context.Context) ([]providers.TaskStats, error) { return h.Stats(ctx, ids) })
			}
			mu.Lock()
			defer mu.Unlock()
			for _, r := range list {
				out[r.ContainerID] = r
			}
			if err != nil {
				problems[host] = err
			}
		})
	}
	wg.Wait()
	return out, problems
}

// bounded runs read within timeout (0: only ctx bounds it). A read that runs out of it
// is let go (its result is dropped: a reader that ignores ctx does not hold up the
// caller) and fails as unreachable, saying what it was: op.
func bounded[T any](ctx context.Context, timeout time.Duration, op string, read func(context.Context) (T, error)) (T, error) {
	if timeout <= 0 {
		return read(ctx)
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := read(rctx)
		done <- result{v, err}
	}()
	late := func() error {
		return fmt.Errorf("%s: %w: no answer within %s", op, providers.ErrUnreachable, timeout)
	}
	select {
	case r := <-done:
		if r.err != nil && ctx.Err() == nil && rctx.Err() != nil && !errors.Is(r.err, providers.ErrUnreachable) {
			r.err = late()
		}
		return r.v, r.err
	case <-rctx.Done():
		var zero T
		if ctx.Err() != nil {
			return zero, ctx.Err()
		}
		return zero, late()
	}
}

// SampleInFlight reads every load balancer's requests in flight and keeps, at now, the
// service's average per task: the requests in flight to its tasks, summed over the
// balancers, divided by the tasks registered with any of them. A balancer that cannot be
// read spoils the reading (its share would be missing from the sum, which would read as
// less load).
func (s *Sampler) SampleInFlight(ctx context.Context, now time.Time) {
	tasks, bals := s.src.Tasks(), s.src.Balancers()
	counts, err := s.readInFlight(ctx, bals)
	total, registered := 0, 0
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range tasks {
		last := s.reading(t)
		last.InFlight, last.InFlightOK, last.InFlightErr = 0, false, err
		if t.Address == "" {
			continue
		}
		seen, n := false, 0
		for _, c := range counts {
			v, ok := c[t.Address]
			n, seen = n+v, seen || ok
		}
		total += n
		if seen {
			registered++
			last.InFlight, last.InFlightOK = n, err == nil
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
	s.req.add(now, float64(total)/float64(max(registered, 1)), why == "", why, s.cfg.Window)
}

func (s *Sampler) readInFlight(ctx context.Context, bals []InFlightReader) ([]map[string]int, error) {
	counts := make([]map[string]int, len(bals))
	errs := make([]error, len(bals))
	var wg sync.WaitGroup
	for i, b := range bals {
		wg.Go(func() {
			counts[i], errs[i] = bounded(ctx, s.cfg.HostTimeout, "reading a load balancer's requests in flight", b.InFlight)
		})
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
