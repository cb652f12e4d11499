package autoscale

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/lb"
)

// Task is one running task of a service, as the sampler reads it.
type Task struct {
	Host        string
	ContainerID string
	// Address is where the load balancers send it requests (host address:published port);
	// "" when it publishes none.
	Address   string
	CPU       int64 // its cpu reservation, ECS units (1024 = 1 vCPU)
	MemoryMiB int64 // its memory limit; 0 = none
}

// TaskOf is a running task as the sampler reads it: reservation and limit from its task
// definition, address from its host's.
func TaskOf(t providers.Task, hostAddress string) Task {
	task := Task{Host: t.Host, ContainerID: t.ContainerID, Address: t.Address(hostAddress)}
	if spec := t.Meta.Spec; spec != nil {
		task.CPU, task.MemoryMiB = spec.CPU, spec.Memory
	}
	return task
}

// StatsReader reads containers' stats on one host (a providers.Host is one).
type StatsReader interface {
	Stats(ctx context.Context, containerIDs []string) ([]providers.TaskStats, error)
}

// InFlightReader counts requests in flight per address (an lb.Balancer is one).
type InFlightReader interface {
	InFlight(ctx context.Context) (map[string]int, error)
}

// Source is what a Sampler reads. Each is asked at every reading, so it follows the tasks
// and connections the controller has now.
type Source struct {
	// Tasks are the service's running tasks.
	Tasks func() []Task
	// Host is the connected host of that name; nil when it is not connected.
	Host func(name string) StatsReader
	// Balancers are the environment's load balancers (none: requests cannot be measured).
	Balancers func() []InFlightReader
}

// HostsOf adapts a fleet's Host method (nil when not connected) to Source.Host.
func HostsOf(host func(name string) providers.Host) func(string) StatsReader {
	return func(name string) StatsReader {
		if h := host(name); h != nil {
			return h
		}
		return nil
	}
}

// BalancersOf adapts load balancers to Source.Balancers.
func BalancersOf(bs []lb.Balancer) []InFlightReader {
	out := make([]InFlightReader, 0, len(bs))
	for _, b := range bs {
		if b != nil {
			out = append(out, b)
		}
	}
	return out
}

// Config says how a Sampler samples.
type Config struct {
	// Window is how far back the metrics look (default 60s).
	Window time.Duration
	// StatsEvery is how often the hosts' stats are read (default 5s); InFlightEvery how
	// often the balancers' requests in flight are (default 1s: a spiky number, and a cheap
	// read of one balancer for every service).
	StatsEvery, InFlightEvery time.Duration
	// HostTimeout bounds each host's stats read and each balancer's read (0: only ctx
	// does): one silent host does not hold up the others' readings. A read that runs out
	// of it fails as unreachable (providers.ErrUnreachable).
	HostTimeout time.Duration
}

func (c *Config) defaults() {
	if c.Window <= 0 {
		c.Window = time.Minute
	}
	if c.StatsEvery <= 0 {
		c.StatsEvery = 5 * time.Second
	}
	if c.InFlightEvery <= 0 {
		c.InFlightEvery = time.Second
	}
}

// Sampler measures one service's tasks over a sliding window.
type Sampler struct {
	cfg Config
	src Source

	mu            sync.Mutex
	prev          map[string]providers.TaskStats // each container's last reading
	cpu, mem, req series
	// last is what the latest readings saw of each task, by container ID (Readings).
	last map[string]*Reading
}

// NewSampler makes a sampler of src; Run it, or call SampleStats and SampleInFlight.
func NewSampler(src Source, cfg Config) *Sampler {
	cfg.defaults()
	return &Sampler{cfg: cfg, src: src, prev: map[string]providers.TaskStats{}, last: map[string]*Reading{}}
}

// Run samples until ctx ends: the stats every StatsEvery, requests every InFlightEvery.
func (s *Sampler) Run(ctx context.Context) {
	stats, inFlight := time.NewTicker(s.cfg.StatsEvery), time.NewTicker(s.cfg.InFlightEvery)
	defer stats.Stop()
	defer inFlight.Stop()
	s.SampleStats(ctx, time.Now())
	s.SampleInFlight(ctx, time.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-stats.C:
			s.SampleStats(ctx, now)
		case now := <-inFlight.C:
			s.SampleInFlight(ctx, now)
		}
	}
}

// Metrics are the service's metrics over the window (now-Window, now]. A metric with
// fewer than half the readings the window should hold is missing, and says why.
func (s *Sampler) Metrics(now time.Time) Metrics {
	s.mu.Lock()
	defer s.mu.Unlock()
	from := now.Add(-s.cfg.Window)
	return Metrics{
		CPU:      s.cpu.metric(from, s.need(s.cfg.StatsEvery), s.cfg.Window),
		Memory:   s.mem.metric(from, s.need(s.cfg.StatsEvery), s.cfg.Window),
		Requests: s.req.metric(from, s.need(s.cfg.InFlightEvery), s.cfg.Window),
	}
}

// Forget drops the readings taken up to now. The metrics are per task: after the count
// changed, readings of the old count would weigh in the mean for a whole window and make
// the next decision overshoot (one task at 8 requests in flight, scaled to 4, still
// averaged 5.8 per task 15s later and scaled to 6). The next decision then waits for half a
// window of readings at the new count.
func (s *Sampler) Forget(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range []*series{&s.cpu, &s.mem, &s.req} {
		i := 0
		for i < len(r.points) && !r.points[i].at.After(now) {
			i++
		}
		r.points = r.points[i:]
	}
}

func (s *Sampler) need(every time.Duration) int {
	return max(1, int(s.cfg.Window/every)/2)
}

// series is one metric's readings, oldest first, and why the last reading had no value.
type series struct {
	points []point
	note   string
}

type point struct {
	at time.Time
	v  float64
}

// add keeps v as the reading at now, or, when ok is false, why there was none. Readings
// older than window before now are dropped: a sampler whose Metrics nobody asks for
// (deck top's) does not grow.
func (r *series) add(now time.Time, v float64, ok bool, why string, window time.Duration) {
	if !ok {
		r.note = why
		return
	}
	r.points, r.note = append(r.points, point{now, v}), ""
	i := 0
	for i < len(r.points) && !r.points[i].at.After(now.Add(-window)) {
		i++
	}
	r.points = r.points[i:]
}

func (r *series) metric(from time.Time, need int, window time.Duration) Metric {
	i := 0
	for i < len(r.points) && !r.points[i].at.After(from) {
		i++
	}
	r.points = r.points[i:]
	if len(r.points) < need {
		why := fmt.Sprintf("%d readings in the last %s, want at least %d", len(r.points), short(window), need)
		if r.note != "" {
			why += " (" + r.note + ")"
		}
		return Metric{Missing: why, Readings: len(r.points)}
	}
	sum := 0.0
	for _, p := range r.points {
		sum += p.v
	}
	return Metric{Value: sum / float64(len(r.points)), OK: true, Readings: len(r.points)}
}
