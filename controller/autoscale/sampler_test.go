package autoscale

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/fake"
	"github.com/deckhq/deck/providers/lb"
	lbfake "github.com/deckhq/deck/providers/lb/fake"
)

// fleet is two fake hosts on one clock, each running one task of web.
type fleet struct {
	cloud *fake.Cloud
	clock *fake.Clock
	tasks []Task
}

func newFleet(t *testing.T) *fleet {
	t.Helper()
	f := &fleet{cloud: fake.NewCloud(), clock: fake.NewClock(t0)}
	for i, name := range []string{"h1", "h2"} {
		h := f.cloud.AddHost(manifest.HostSpec{Name: name}, manifest.Resources{CPU: 4096, Memory: 8192})
		h.SetClock(f.clock.Now)
		h.AddImage("web:1")
		task, err := h.Run(context.Background(), providers.TaskSpec{Name: "web-" + name, Image: "web:1", MemoryMiB: 256, Port: 8080})
		require.NoError(t, err)
		task.Meta.Spec = &manifest.TaskDef{CPU: 256, Memory: 256}
		task.Meta.Port = 8080
		f.tasks = append(f.tasks, TaskOf(task, "10.0.0."+string(rune('1'+i))))
	}
	return f
}

func (f *fleet) source(bals ...InFlightReader) Source {
	return Source{
		Tasks: func() []Task { return f.tasks },
		Host: HostsOf(func(name string) providers.Host {
			if h := f.cloud.Host(name); h != nil {
				return h
			}
			return nil
		}),
		Balancers: func() []InFlightReader { return bals },
	}
}

// statsFor samples the stats every 5s for d, by the fleet's clock, and returns the time
// of the last reading.
func (f *fleet) statsFor(s *Sampler, d time.Duration) time.Time {
	end := f.clock.Now().Add(d)
	for ; f.clock.Now().Before(end); f.clock.Advance(5 * time.Second) {
		s.SampleStats(context.Background(), f.clock.Now())
	}
	return f.clock.Now().Add(-5 * time.Second)
}

func TestSamplerCPUAndMemoryOverTheWindow(t *testing.T) {
	f := newFleet(t)
	h1, h2 := f.cloud.Host("h1"), f.cloud.Host("h2")
	// 256 cpu units reserved (a quarter of a vCPU): half a core is 200%, a quarter 100%.
	h1.SetUsage(f.tasks[0].ContainerID, 0.5, 128<<20)
	h2.SetUsage(f.tasks[1].ContainerID, 0.25, 64<<20)
	s := NewSampler(f.source(), Config{})

	at := f.statsFor(s, 15*time.Second)
	m := s.Metrics(at)
	assert.False(t, m.CPU.OK, "3 readings of a 60s window read every 5s are too few")
	assert.Equal(t, "2 readings in the last 1m, want at least 6", m.CPU.Missing, "the first reading gives no rate")
	assert.Equal(t, 3, m.Memory.Readings)

	at = f.statsFor(s, 45*time.Second)
	m = s.Metrics(at)
	require.True(t, m.CPU.OK, m.CPU.Missing)
	assert.InDelta(t, 150, m.CPU.Value, 1e-6, "the mean of 200% and 100%")
	assert.Equal(t, 11, m.CPU.Readings)
	require.True(t, m.Memory.OK)
	assert.InDelta(t, 37.5, m.Memory.Value, 1e-6, "the mean of 128 and 64 MiB of 256")

	// The load changes: once a whole window has passed, only the new load counts.
	h1.SetUsage(f.tasks[0].ContainerID, 0.1, 128<<20)
	h2.SetUsage(f.tasks[1].ContainerID, 0.1, 64<<20)
	at = f.statsFor(s, 30*time.Second)
	m = s.Metrics(at)
	assert.Greater(t, m.CPU.Value, 40.0, "half the window still holds the old load")
	at = f.statsFor(s, 35*time.Second)
	assert.InDelta(t, 40, s.Metrics(at).CPU.Value, 1e-6)

	// A host that does not answer: the other's task is the service's average.
	h2.SetDown(true)
	at = f.statsFor(s, time.Minute)
	m = s.Metrics(at)
	assert.InDelta(t, 40, m.CPU.Value, 1e-6)
	assert.InDelta(t, 50, m.Memory.Value, 1e-6, "h1's task alone")

	// No host answers: no data, and why.
	h1.SetDown(true)
	at = f.statsFor(s, time.Minute)
	m = s.Metrics(at)
	assert.False(t, m.CPU.OK)
	assert.False(t, m.Memory.OK)
	assert.Contains(t, m.Memory.Missing, "0 readings in the last 1m, want at least 6 (host h1 (): reading the stats of containers: unreachable")
	assert.Contains(t, m.Memory.Missing, "host h2")
}

func TestSamplerAfterATaskIsReplaced(t *testing.T) {
	f := newFleet(t)
	f.cloud.Host("h1").SetUsage(f.tasks[0].ContainerID, 0.5, 0)
	f.cloud.Host("h2").SetUsage(f.tasks[1].ContainerID, 0.5, 0)
	s := NewSampler(f.source(), Config{})
	f.statsFor(s, time.Minute)
	// h2's task is replaced by one that uses nothing yet: its first reading gives no rate,
	// and the one it replaced is forgotten.
	repl, err := f.cloud.Host("h2").Run(context.Background(), providers.TaskSpec{Name: "web-h2b", Image: "web:1"})
	require.NoError(t, err)
	old := f.tasks[1].ContainerID
	require.Contains(t, s.prev, old)
	f.tasks[1].ContainerID = repl.ContainerID
	at := f.statsFor(s, 5*time.Second)
	assert.InDelta(t, 200, s.Metrics(at).CPU.Value, 1e-6, "the new task has no rate yet")
	assert.NotContains(t, s.prev, old)
	at = f.statsFor(s, time.Minute)
	assert.InDelta(t, 100, s.Metrics(at).CPU.Value, 1e-6, "then it counts: (200% + 0%) / 2")
}

func TestSamplerRequestsInFlightPerTask(t *testing.T) {
	f := newFleet(t)
	a, b := lbfake.New("a"), lbfake.New("b")
	ctx := context.Background()
	route := lb.Route{App: "shop", Env: "prod", Service: "web", Path: "/", Targets: []string{f.tasks[0].Address, f.tasks[1].Address}}
	require.NoError(t, a.Put(ctx, route))
	require.NoError(t, b.Put(ctx, route))
	a.SetInFlight(f.tasks[0].Address, 10)
	a.SetInFlight(f.tasks[1].Address, 4)
	b.SetInFlight(f.tasks[0].Address, 2)
	s := NewSampler(f.source(a, b), Config{})
	read := func(d time.Duration) Metric {
		for end := f.clock.Now().Add(d); f.clock.Now().Before(end); f.clock.Advance(time.Second) {
			s.SampleInFlight(ctx, f.clock.Now())
		}
		return s.Metrics(f.clock.Now().Add(-time.Second)).Requests
	}
	m := read(20 * time.Second)
	assert.False(t, m.OK)
	assert.Equal(t, "20 readings in the last 1m, want at least 30", m.Missing)
	m = read(40 * time.Second)
	require.True(t, m.OK)
	assert.InDelta(t, 8, m.Value, 1e-9, "(10 + 4 + 2) in flight over 2 tasks")
	assert.Equal(t, 60, m.Readings)

	b.SetDown(true)
	m = read(time.Minute)
	assert.False(t, m.OK, "a balancer that cannot be read would make the load look smaller")
	assert.Contains(t, m.Missing, "admin API unreachable")

	b.SetDown(false)
	// A task not yet registered does not count as a task that takes requests.
	f.tasks = append(f.tasks, Task{Host: "h1", ContainerID: "new", Address: "10.0.0.9:40009"})
	m = read(time.Minute)
	assert.InDelta(t, 8, m.Value, 1e-9)

	s = NewSampler(f.source(), Config{})
	s.SampleInFlight(ctx, f.clock.Now())
	assert.Contains(t, s.Metrics(f.clock.Now()).Requests.Missing, "the environment has no load balancer")
	empty := lbfake.New("empty")
	s = NewSampler(f.source(empty), Config{})
	s.SampleInFlight(ctx, f.clock.Now())
	assert.Contains(t, s.Metrics(f.clock.Now()).Requests.Missing, "no task of the service is registered with a load balancer")
}

func TestSamplerRun(t *testing.T) {
	f := newFleet(t)
	for i, h := range []string{"h1", "h2"} {
		host := f.cloud.Host(h)
		host.SetClock(time.Now)
		host.SetUsage(f.tasks[i].ContainerID, 0, 64<<20)
	}
	s := NewSampler(f.source(), Config{Window: 200 * time.Millisecond, StatsEvery: 20 * time.Millisecond, InFlightEvery: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for !s.Metrics(time.Now()).CPU.OK {
		require.True(t, time.Now().Before(deadline), "Run took no readings: %+v", s.Metrics(time.Now()))
		time.Sleep(10 * time.Millisecond)
	}
	m := s.Metrics(time.Now())
	assert.InDelta(t, 25, m.Memory.Value, 1e-6)
	assert.InDelta(t, 0, m.CPU.Value, 1e-6)
	cancel()
	<-done
}

// stalled is a host whose stats never answer, whatever the context says.
type stalled struct{ release chan struct{} }

func (s stalled) Stats(context.Context, []string) ([]providers.TaskStats, error) {
	<-s.release
	return nil, nil
}

func TestSamplerReadingsPerTaskAndAStalledHost(t *testing.T) {
	f := newFleet(t)
	ctx := context.Background()
	f.cloud.Host("h1").SetUsage(f.tasks[0].ContainerID, 0.5, 128<<20)
	bal := lbfake.New("a")
	require.NoError(t, bal.Put(ctx, lb.Route{App: "shop", Env: "prod", Service: "web", Path: "/", Targets: []string{f.tasks[0].Address}}))
	bal.SetInFlight(f.tasks[0].Address, 3)
	release := make(chan struct{})
	defer close(release)
	src := f.source(bal)
	hosts := src.Host
	src.Host = func(name string) StatsReader {
		if name == "h2" {
			return stalled{release}
		}
		return hosts(name)
	}
	s := NewSampler(src, Config{HostTimeout: 50 * time.Millisecond})

	start := time.Now()
	s.SampleStats(ctx, f.clock.Now())
	assert.Less(t, time.Since(start), 5*time.Second, "the stalled host held up the reading")
	r := s.Readings()
	require.Len(t, r, 2)
	assert.True(t, r[0].Read)
	assert.False(t, r[0].CPUOK, "one reading gives no rate")
	assert.Equal(t, uint64(128<<20), r[0].Stats.MemoryBytes)
	assert.False(t, r[1].Read)
	require.Error(t, r[1].StatsErr)
	assert.ErrorIs(t, r[1].StatsErr, providers.ErrUnreachable)
	assert.Contains(t, r[1].StatsErr.Error(), "host h2: reading the stats of containers: unreachable: no answer within 50ms")

	f.clock.Advance(2 * time.Second)
	s.SampleStats(ctx, f.clock.Now())
	s.SampleInFlight(ctx, f.clock.Now())
	r = s.Readings()
	require.True(t, r[0].CPUOK)
	assert.InDelta(t, 0.5, r[0].VCPUs, 1e-9)
	assert.True(t, r[0].InFlightOK)
	assert.Equal(t, 3, r[0].InFlight)
	assert.False(t, r[1].InFlightOK, "h2's task is no target of the balancer")

	// A task that stops is forgotten.
	gone := f.tasks[1].ContainerID
	require.Contains(t, s.last, gone)
	f.tasks = f.tasks[:1]
	s.SampleStats(ctx, f.clock.Now())
	assert.Len(t, s.Readings(), 1)
	assert.NotContains(t, s.last, gone)
}
